// Per-user rate limits: IETF headers, 429 past the quota, one budget across web processes, costs, health exempt, Redis down.
import { expect } from 'chai';
import express, { type Express } from 'express';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { authenticate } from '../../api/auth.js';
import { errorHandler } from '../../api/errors.js';
import { createRateLimiter, RATE_COST } from '../../api/rate-limit.js';
import { wireProcess } from '../../queues/wiring.js';
import { waitForRedis } from '../../shared/platform/redis.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { captureLogs } from '../helpers/logs.js';
import { RedisServer } from '../helpers/redis.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

// One unit a second with a burst of 20: a window of 20 units lasting 20 s, far longer than any test here takes, so
// every assertion counts units and none depends on when a window happens to end.
const LIMITS = { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '20' };
const QUOTA = 20;
const WINDOW = 20;

/** The `r` and `t` of a `RateLimit` answer. */
function remaining(res: request.Response): { r: number; t: number } {
  const match = /^"default";r=(\d+);t=(\d+)$/.exec(String(res.headers.ratelimit));
  expect(match, `RateLimit: ${res.headers.ratelimit}`).to.not.equal(null);
  return { r: Number(match![1]), t: Number(match![2]) };
}

const read = (app: Express, auth: string) => request(app).get('/v1/customers').set('Authorization', auth);

describe('rate limits', () => {
  const opened = closedAfterEach();

  describe('on the shared Redis', () => {
    let system: TestSystem;
    let auth: string;
    beforeEach(async () => {
      system = opened(await createTestSystem(LIMITS));
      ({ auth } = await addUser(system.ctx.db, 'client'));
    });

    it('advertises the policy and what is left on every answer', async () => {
      const res = await read(system.app, auth).expect(200);
      expect(res.headers['ratelimit-policy']).to.equal(`"default";q=${QUOTA};w=${WINDOW}`);
      const { r, t } = remaining(res);
      expect(r).to.equal(QUOTA - 1);
      expect(t).to.be.within(1, WINDOW);
      // A limited route's error answers carry them too.
      const missing = await request(system.app).get('/v1/customers/cust-none').set('Authorization', auth).expect(404);
      expect(remaining(missing).r).to.equal(QUOTA - 2);
    });

    it('lets the whole burst through, then answers 429 with Retry-After and the error body', async () => {
      for (let i = 1; i <= QUOTA; i++) expect(remaining(await read(system.app, auth).expect(200)).r).to.equal(QUOTA - i);
      const refused = await read(system.app, auth).expect(429);
      expect(refused.body).to.deep.equal({
        error: { code: 'rate_limited', message: refused.body.error.message, details: null },
      });
      expect(refused.body.error.message).to.be.a('string').and.match(/rate limit/);
      const retryAfter = Number(refused.headers['retry-after']);
      const { r, t } = remaining(refused);
      expect(r).to.equal(0);
      expect(retryAfter).to.be.within(1, WINDOW);
      expect(retryAfter, 'Retry-After is not before the end of the window').to.be.at.least(t);
      expect(refused.headers['ratelimit-policy']).to.equal(`"default";q=${QUOTA};w=${WINDOW}`);
    });

    it('counts operators too', async () => {
      const operator = await addUser(system.ctx.db, 'operator');
      for (let i = 0; i < QUOTA; i++) await read(system.app, operator.auth).expect(200);
      await read(system.app, operator.auth).expect(429);
    });

    it('shares one budget between two web processes on the same Redis', async () => {
      // A second process: its own connection and app, the same configuration (so the same prefix) and database.
      const other = wireProcess(system.config, 'web-2', { db: system.ctx.db });
      opened({
        close: async () => {
          await other.ctx.queues.close();
          other.ctx.queues.connection.disconnect();
        },
      });
      await waitForRedis(other.ctx.queues.connection, 5000);
      const otherApp = createApp(other.ctx);

      for (let i = 1; i <= QUOTA; i++) {
        const res = await read(i % 2 ? system.app : otherApp, auth).expect(200);
        expect(remaining(res).r).to.equal(QUOTA - i);
      }
      await read(otherApp, auth).expect(429);
      await read(system.app, auth).expect(429);
    });

    it('gives each user a budget of its own', async () => {
      for (let i = 0; i < QUOTA; i++) await read(system.app, auth).expect(200);
      await read(system.app, auth).expect(429);
      const other = await addUser(system.ctx.db, 'client');
      expect(remaining(await read(system.app, other.auth).expect(200)).r).to.equal(QUOTA - 1);
    });

    it("spends each route's cost: a write more than a read", async () => {
      expect(remaining(await read(system.app, auth).expect(200)).r).to.equal(QUOTA - RATE_COST.read);
      const rotated = await request(system.app).post('/v1/webhooks/secret/rotate').set('Authorization', auth).expect(200);
      expect(remaining(rotated).r).to.equal(QUOTA - RATE_COST.read - RATE_COST.write);
    });

    it('spends more on an expensive route, and caps a cost at the quota', async () => {
      const limiter = createRateLimiter({ redis: system.ctx.queues.connection, prefix: system.config.queuePrefix, perSecond: 1, burst: QUOTA, log: system.ctx.log });
      const app = express();
      app.use(authenticate(system.ctx.db, 0));
      app.get('/read', limiter.middleware(RATE_COST.read), (_req, res) => void res.json({}));
      app.post('/receipt', limiter.middleware(RATE_COST.xmlReceipt), (_req, res) => void res.status(202).json({}));
      app.post('/huge', limiter.middleware(QUOTA * 10), (_req, res) => void res.status(202).json({}));
      app.use(errorHandler(system.ctx.log));

      expect(remaining(await request(app).get('/read').set('Authorization', auth).expect(200)).r).to.equal(QUOTA - 1);
      expect(remaining(await request(app).post('/receipt').set('Authorization', auth).expect(202)).r).to.equal(QUOTA - 1 - RATE_COST.xmlReceipt);
      // 9 left: a receipt no longer fits; refused, it counts all the same, so reads too wait for the next window.
      await request(app).post('/receipt').set('Authorization', auth).expect(429);
      await request(app).get('/read').set('Authorization', auth).expect(429);

      const fresh = await addUser(system.ctx.db, 'client');
      expect(remaining(await request(app).post('/huge').set('Authorization', fresh.auth).expect(202)).r).to.equal(0);
    });

    it('keeps each counter under the queue prefix, hash tag included, for one window', async () => {
      const prefix = `{rl-${Date.now().toString(36)}}`;
      const tagged = opened(await createTestSystem({ ...LIMITS, QUEUE_PREFIX: prefix }));
      const user = await addUser(tagged.ctx.db, 'client');
      await read(tagged.app, user.auth).expect(200);
      const key = `${prefix}:rate-limit:${user.userId}`;
      expect(await tagged.ctx.queues.connection.get(key)).to.equal('1');
      expect(await tagged.ctx.queues.connection.pttl(key)).to.be.within(1, WINDOW * 1000);
    });

    it('never limits /healthz and /readyz', async () => {
      for (let i = 0; i <= QUOTA * 2; i++) {
        const health = await request(system.app).get('/healthz').expect(200);
        expect(health.headers).to.not.have.property('ratelimit');
        await request(system.app).get('/readyz').expect(200);
      }
    });
  });

  describe('while Redis does not answer', () => {
    let redis: RedisServer;
    let system: TestSystem;
    let auth: string;
    beforeEach(async () => {
      redis = await RedisServer.start();
      opened({ close: () => redis.stop() });
      system = opened(await createTestSystem(LIMITS, { redisUrl: redis.url }));
      ({ auth } = await addUser(system.ctx.db, 'client'));
    });

    it('keeps answering reads, limited by each process in memory, and counts in Redis again once it is back', async () => {
      const { log, lines } = captureLogs();
      const app = createApp({ ...system.ctx, log });
      for (let i = 0; i < 5; i++) await read(app, auth).expect(200);
      await redis.stop();

      const started = Date.now();
      const first = await read(app, auth).expect(200);
      expect(Date.now() - started).to.be.below(1000);
      // The insurance limiter starts its own count, with the same policy.
      expect(first.headers['ratelimit-policy']).to.equal(`"default";q=${QUOTA};w=${WINDOW}`);
      expect(remaining(first).r).to.equal(QUOTA - 1);
      // Work that needs Redis still answers 503, within the limit all the same.
      const customerId = await addCustomer(system.ctx.db);
      const operator = await addUser(system.ctx.db, 'operator');
      const submit = await request(app).post('/v1/invoices').set('Authorization', operator.auth).send(invoiceBody(customerId)).expect(503);
      expect(submit.headers['retry-after']).to.match(/^\d+$/);
      expect(remaining(submit).r).to.equal(QUOTA - RATE_COST.write);
      for (let i = 2; i <= QUOTA; i++) await read(app, auth).expect(200);
      const refused = await read(app, auth).expect(429);
      expect(refused.body.error.code).to.equal('rate_limited');
      expect(lines.filter((l) => /rate limits are counted by each web process alone/.test(l.msg))).to.have.length(1);

      await redis.start();
      // The memory budget is spent, so a 200 now comes from the Redis count (emptied by the restart).
      await waitFor(async () => (await read(app, auth)).status === 200, { what: 'Redis to count again' });
    });

    it('answers within the deadline when Redis accepts but never replies', async () => {
      await read(system.app, auth).expect(200);
      const pid = redis.pid!;
      process.kill(pid, 'SIGSTOP');
      opened({ close: () => process.kill(pid, 'SIGCONT') });

      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const res = await read(system.app, auth).expect(200);
        expect(Date.now() - started).to.be.below(1000);
        expect(remaining(res).r).to.equal(QUOTA - 1 - i);
      }
    });
  });
});
