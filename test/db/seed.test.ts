// The development seed creates buyers FatturaPA can address and a demo operator, and is safe to run twice.
import { expect } from 'chai';
import { DEMO_CUSTOMERS, seedDevelopment } from '../../shared/seed.js';
import { findPrincipalByApiKey } from '../../shared/users.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

describe('development seed', () => {
  let testDb: TestDb;
  beforeEach(async () => {
    testDb = await createTestDb();
  });
  afterEach(async () => {
    await testDb.destroy();
  });

  it('runs twice with the same key without duplicating anything', async () => {
    const key = 'ak_demo_0123456789abcdef0123';
    const first = await seedDevelopment(testDb.db, key);
    const second = await seedDevelopment(testDb.db, key);
    expect(second.operatorId).to.equal(first.operatorId);
    const count = async (table: string) => Number((await testDb.db(table).count({ n: '*' }).first())?.n);
    expect(await count('customers')).to.equal(DEMO_CUSTOMERS.length);
    expect(await count('users')).to.equal(1);
    expect(await count('api_keys')).to.equal(1);
    expect(await findPrincipalByApiKey(testDb.db, key)).to.deep.include({ role: 'operator', username: 'demo-operator' });
  });

  it('generates a key when none is given', async () => {
    const { apiKey } = await seedDevelopment(testDb.db);
    expect(apiKey).to.match(/^ak_/);
    expect(await findPrincipalByApiKey(testDb.db, apiKey)).to.not.equal(undefined);
  });

  it('gives every demo buyer a tax id, an address and a way to be reached by the SdI', () => {
    for (const c of DEMO_CUSTOMERS) {
      expect(c.vatNumber ?? c.fiscalCode, c.name).to.be.a('string');
      expect(c.sdiCode ?? c.pec, c.name).to.be.a('string');
      expect(c.currency).to.match(/^[A-Z]{3}$/);
    }
  });
});
