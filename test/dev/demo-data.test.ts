// The development seed creates buyers FatturaPA can address, a demo operator and demo invoices to bill, and is safe to run twice.
import { expect } from 'chai';
import { DEMO_ACCOUNTS, DEMO_CUSTOMERS, DEMO_INVOICES, seedDevelopment, submitDemoInvoices } from '../../scripts/demo-data.js';
import { actors } from '../../shared/access/actors.js';
import { findPrincipalByApiKey } from '../../shared/access/users.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem } from '../helpers/system.js';

describe('development seed', () => {
  const opened = closedAfterEach();
  let testDb: TestDb;
  beforeEach(async () => {
    testDb = await createTestDb();
    opened({ close: () => testDb.destroy() });
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

describe('demo invoices', () => {
  const opened = closedAfterEach();

  it('are valid documents, one per demo customer, submitted once however often npm start runs', async () => {
    const system = opened(await createTestSystem());
    const { operatorId } = await seedDevelopment(system.ctx.db);
    expect(DEMO_INVOICES.map((i) => i.customerId).sort()).to.deep.equal(DEMO_CUSTOMERS.map((c) => c.id).sort());
    expect(Object.keys(DEMO_ACCOUNTS).sort()).to.deep.equal(DEMO_CUSTOMERS.map((c) => c.id).sort());
    expect(await submitDemoInvoices(system.ctx, operatorId)).to.equal(DEMO_INVOICES.length);
    const events = await system.events('invoice-save');
    system.startWorkers(['invoice-save']);
    const jobs = await system.ctx.queues.get('invoice-save').getJobs(['waiting', 'active', 'completed']);
    await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 10_000)));
    expect(await submitDemoInvoices(system.ctx, operatorId)).to.equal(0);
    const pending = await system.ctx.db('invoices').select('payment_status').where({ created_by: actors.user(operatorId) });
    expect(pending.map((r) => r.payment_status)).to.deep.equal(Array(DEMO_INVOICES.length).fill('PENDING'));
  });
});
