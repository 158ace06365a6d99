// Redis restarted from its append-only file, or emptied, while invoices flow: nothing the API accepted into the database is lost, and the schedulers come back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { jobSchedules } from '../../queues/schedules.js';
import { RedisServer } from '../../scripts/redis-server.js';
import { startSweepClock } from '../../workers/sweep-clock.js';
import { addCustomer, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createSdiTestSystem, type SdiTestSystem } from '../helpers/sdi.js';
import { waitFor } from '../helpers/wait.js';

const INVOICES = 40;

describe('Redis losing its data', () => {
  const opened = closedAfterEach();
  let redis: RedisServer;
  let sdi: SdiTestSystem;

  beforeEach(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'antaeus-redis-'));
    opened({ close: () => rm(dir, { recursive: true, force: true }) });
    redis = await RedisServer.start({ dir, persistence: 'aof' });
    opened({ close: () => redis.stop() });
  });

  /** The system on the private Redis, every invoice submitted, and the flow under way. */
  async function flowing(): Promise<{ ids: string[] }> {
    // A lost worker's job goes back to the queue after 1 s, not 30.
    sdi = opened(await createSdiTestSystem({ JOB_LOCK_MS: '1000' }, { redisUrl: redis.url, simulatorDelayMs: 100 }));
    const { system } = sdi;
    const customerId = await addCustomer(system.ctx.db);
    system.startWorkers(['invoice-save', 'sdi-send', 'maintenance']);
    const ids: string[] = [];
    for (let i = 0; i < INVOICES; i += 1) {
      const res = await request(system.app).post('/v1/invoices').set('Authorization', sdi.operatorAuth).send(invoiceBody(customerId)).expect(202);
      ids.push(res.body.id);
    }
    await waitFor(async () => Number((await system.ctx.db('invoices').count({ n: '*' }).where({ status: 'INTERNAL_INVOICE_SENT' }))[0]!.n) > 0, {
      what: 'the first invoices sent',
    });
    return { ids };
  }

  const delivered = async (ids: string[]) =>
    Number((await sdi.system.ctx.db('invoices').count({ n: '*' }).whereIn('id', ids).andWhere({ status: 'INTERNAL_INVOICE_DELIVERED' }))[0]!.n);

  it('restarted from its AOF mid-flow (killed, not shut down): every accepted invoice is delivered', async function () {
    this.timeout(60_000);
    const { ids } = await flowing();
    await redis.stop();
    await redis.start();
    await waitFor(async () => (await delivered(ids)) === ids.length, { what: 'every accepted invoice delivered', timeoutMs: 45_000, intervalMs: 200 });
  });

  it('emptied (FLUSHALL) mid-flow: every invoice that reached the database is delivered, and the schedulers come back', async function () {
    this.timeout(60_000);
    await flowing();
    const { system } = sdi;
    const flusher = new Redis(redis.url);
    opened({ close: () => flusher.disconnect() });
    await flusher.flushall();
    // What the database holds now is what it owes; intake jobs that had not run yet were only in Redis.
    const inDatabase: string[] = (await system.ctx.db('invoices').select('id')).map((r: { id: string }) => r.id);
    expect(inDatabase.length).to.be.greaterThan(0);

    const clock = startSweepClock(system.ctx.queues, system.ctx.log, 300);
    opened({ close: () => clock.stop() });
    await waitFor(async () => (await delivered(inDatabase)) === inDatabase.length, { what: 'every saved invoice delivered', timeoutMs: 45_000, intervalMs: 200 }).catch(async (err) => {
      console.log(await system.ctx.db('invoices').select('status').count({ n: '*' }).groupBy('status'));
      console.log(await system.ctx.db('sdi_notifications').select('outcome').count({ n: '*' }).groupBy('outcome'));
      for (const q of ['invoice-save', 'sdi-send', 'maintenance'] as const) console.log(q, await system.ctx.queues.get(q).getJobCounts());
      console.log((await system.ctx.queues.get('maintenance').getFailed()).map((j) => j.failedReason));
      throw err;
    });
    for (const s of jobSchedules(system.config)) {
      expect(await system.ctx.queues.get(s.queue).getJobScheduler(s.id), `scheduler ${s.id}`).to.not.equal(undefined);
    }
  });
});
