// An unexpected database error in the API: the client gets a generic 500, the log line names the error's class and code but no bound value.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { createLogger } from '../../shared/platform/logger.js';
import { addUser } from '../helpers/fixtures.js';
import { usingPostgres } from '../helpers/db.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem } from '../helpers/system.js';

const customer = (id: string) => ({
  id,
  name: 'Mario Rossi',
  fiscalCode: 'RSSMRA80A01H501U',
  address: { street: 'Via Roma 12', postalCode: '00184', city: 'Roma', country: 'IT' },
  sdiCode: 'M5UXCR1',
  currency: 'EUR',
  email: 'mario.rossi@secret.example',
  username: 'mario.rossi',
});

describe('an unexpected database error in the API', () => {
  const opened = closedAfterEach();

  it('answers a generic 500 and logs the error without the values bound to the query', async () => {
    const system = opened(await createTestSystem());
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    // The production logger, its serializers included, writing here.
    const app = createApp({ ...system.ctx, log: createLogger({ logLevel: 'info' }, 'web', sink) });
    // A constraint the route does not expect: the second customer with the same e-mail fails in the database.
    await system.ctx.db.schema.alterTable('customers', (t) => t.unique(['email'], { indexName: 'customers_email_probe' }));
    const operator = await addUser(system.ctx.db, 'operator');
    const post = (body: object) => request(app).post('/v1/customers').set('Authorization', operator.auth).send(body);

    await post(customer('cust-mario-1')).expect(201);
    const res = await post(customer('cust-mario-2')).expect(500);

    expect(res.body).to.deep.equal({ error: { code: 'internal', message: 'internal error', details: null } });
    const logged = lines.find((l) => l.msg === 'internal error') as { err: Record<string, unknown>; reqId: unknown } | undefined;
    expect(logged?.reqId).to.equal(res.headers['x-request-id']);
    expect(logged?.err).to.include(
      usingPostgres()
        ? { type: 'DatabaseError', code: '23505', message: 'unique constraint violated (table customers, constraint customers_email_probe)' }
        : { type: 'SqliteError', code: 'SQLITE_CONSTRAINT_UNIQUE', message: 'unique constraint violated (customers.email)' },
    );
    expect(JSON.stringify(lines)).to.not.contain('mario').and.not.contain('RSSMRA');
  });
});
