// A dead dependency gives 503 with Retry-After within 2 seconds, never a hang; the API recovers by itself.
import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { freePort } from '../../scripts/redis-server.js';
import { createDb } from '../../shared/platform/db.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { RedisServer } from '../helpers/redis.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

describe('dependencies down', () => {
  let redis: RedisServer;
  let system: TestSystem;
  let customerId: string;
  let auth: string;

  const opened = closedAfterEach();
  beforeEach(async () => {
    redis = await RedisServer.start();
    opened({ close: () => redis.stop() });
    system = opened(await createTestSystem({}, { redisUrl: redis.url }));
    customerId = await addCustomer(system.ctx.db);
    ({ auth } = await addUser(system.ctx.db, 'operator'));
  });

  const submit = () => request(system.app).post('/v1/invoices').set('Authorization', auth).send(invoiceBody(customerId));

  it('answers 503 while Redis is stopped and 202 again once it is back', async () => {
    await submit().expect(202);
    await redis.stop();

    const started = Date.now();
    const down = await submit().expect(503);
    expect(Date.now() - started).to.be.below(2000);
    expect(down.headers['retry-after']).to.match(/^\d+$/);
    expect(down.body.error.code).to.equal('service_unavailable');
    const ready = await request(system.app).get('/readyz').expect(503);
    expect(ready.body).to.include({ redis: 'down', database: 'up' });
    await request(system.app).get('/healthz').expect(200);

    await redis.start();
    await waitFor(async () => (await submit()).status === 202, { what: 'the API to accept invoices again' });
    await request(system.app).get('/readyz').expect(200);
  });

  it('answers 503 on a queue first used while Redis is down, and recovers', async () => {
    await redis.stop();
    const started = Date.now();
    await submit().expect(503);
    expect(Date.now() - started).to.be.below(2000);
    await redis.start();
    await waitFor(async () => (await submit()).status === 202, { what: 'the API to accept invoices again' });
  });

  it('answers 503 within 2 seconds when the database does not answer', async () => {
    const port = await freePort();
    const deadDb = createDb({ url: `postgres://postgres@127.0.0.1:${port}/none`, log: system.ctx.log });
    opened({ close: () => deadDb.destroy() });
    const app = createApp({ ...system.ctx, db: deadDb });
    const started = Date.now();
    const res = await request(app).get('/v1/invoices').set('Authorization', auth).expect(503);
    expect(Date.now() - started).to.be.below(2000);
    expect(res.headers['retry-after']).to.match(/^\d+$/);
    const ready = await request(app).get('/readyz').expect(503);
    expect(ready.body).to.include({ redis: 'up', database: 'down' });
  });
});
