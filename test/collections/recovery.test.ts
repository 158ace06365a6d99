// A collection survives what happens to its job: a worker SIGKILLed mid-call, a job Redis lost while pending or while waiting to retry.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { RedisServer } from '../../scripts/redis-server.js';
import { startSweepClock } from '../../workers/sweep-clock.js';
import { beginAttempt, findCollection, recordRetry, recordSuccess } from '../../shared/collections/store.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createCollectionsTestSystem, type CollectionsTestSystem } from '../helpers/collections.js';
import { waitFor } from '../helpers/wait.js';
import { startWorkerProcess } from '../helpers/worker-process.js';

describe('a collection after a crash', () => {
  const opened = closedAfterEach();
  let t: CollectionsTestSystem;

  /** Every key of this system's queues deleted: the database is all that knows of the work. */
  async function loseJobs(): Promise<void> {
    const { queues } = t.system.ctx;
    const keys = await queues.connection.keys(`${queues.prefix}:*`);
    if (keys.length > 0) await queues.connection.del(...keys);
  }

  /** One sweep, run by a maintenance worker as the schedule would run it. */
  async function sweep(): Promise<void> {
    t.system.startWorkers(['maintenance']);
    const events = await t.system.events('maintenance');
    const job = await t.system.ctx.queues.add('maintenance', 'sweep', {}, { jobId: `sweep-${Date.now()}` });
    await job.waitUntilFinished(events, 10_000);
  }

  const callsFor = (requestId: string) => t.providers.requests.filter((r) => r.requestId === requestId);

  it('completes once when its worker is SIGKILLed mid-call: the call is marked interrupted, tried again, one callback', async function () {
    this.timeout(60_000);
    t = opened(await createCollectionsTestSystem({ JOB_LOCK_MS: '1000' }, { providers: { latencyMs: 3000 } }));
    const env = {
      GAS_PROVIDER_URL: t.providers.urlFor('gas'),
      INTERNET_PROVIDER_URL: t.providers.urlFor('internet'),
      WORKER_QUEUES: 'collect',
      JOB_LOCK_MS: '1000',
      RETRY_BASE_DELAY_MS: '20',
    };
    const doomed = opened(startWorkerProcess(t.system, env));
    const { requestId } = await t.ask();
    // The call is in flight: its attempt is written, the provider is still thinking.
    await waitFor(async () => (await findCollection(t.system.ctx.db, requestId))?.status === 'collecting', { timeoutMs: 15_000, what: 'the call to start' });
    await doomed.close();
    t.providers.setLatency(0);

    opened(startWorkerProcess(t.system, env));
    t.system.startWorkers(['callback']);
    const done = await t.waitForStatus(requestId, 'succeeded', 30_000);
    expect(done.attempts.map((a) => [a.attempt, a.outcome])).to.deep.equal([
      [1, 'interrupted'],
      [2, 'succeeded'],
    ]);
    // Interrupted calls are shown, not counted against the maximum.
    expect(done.attemptsMade).to.equal(1);
    await t.receiver.waitForRequests(1);
    const messages = await t.system.ctx.db('callback_messages').where({ subject_type: 'collection', subject_id: requestId });
    expect(messages).to.have.length(1);
    expect(new Set(t.receiver.requests.map((r) => r.headers['webhook-id']))).to.have.property('size', 1);
  });

  it('is written before the 202: when Redis loses its pending job, the sweep queues it and it completes', async () => {
    t = opened(await createCollectionsTestSystem());
    const { requestId } = await t.ask();
    await loseJobs();
    await sweep();
    t.system.startWorkers(['collect', 'callback']);
    const done = await t.waitForStatus(requestId, 'succeeded');
    expect(done.attempts).to.have.length(1);
    await t.receiver.waitForRequests(1);
  });

  it('keeps its schedule when Redis loses the job waiting to retry: the sweep queues it for its next try, not sooner', async () => {
    // A wait long enough that the retry cannot run before the test has stopped the workers and emptied Redis.
    t = opened(await createCollectionsTestSystem({ RETRY_BASE_DELAY_MS: '4000' }));
    t.providers.script('gas', [{ status: 503 }]);
    const fleet = t.system.startWorkers(['collect'], undefined, { random: () => 0.99 });
    const { requestId } = await t.ask();
    const retrying = await t.waitForStatus(requestId, 'retrying');
    await fleet.close(1000);
    await loseJobs();
    await sweep();
    t.system.startWorkers(['collect', 'callback']);
    const done = await t.waitForStatus(requestId, 'succeeded');
    const [, second] = callsFor(requestId);
    expect(second!.at).to.be.at.least(Date.parse(retrying.nextAttemptAt as string) - 5);
    expect(done.attempts.map((a) => a.outcome)).to.deep.equal(['retrying', 'succeeded']);
    expect(done.attemptsMade).to.equal(2);
  });

  it('is failed, not tried again, when it has used every attempt before its job was lost', async () => {
    t = opened(await createCollectionsTestSystem({ COLLECT_MAX_ATTEMPTS: '2', RETRY_BASE_DELAY_MS: '60000' }));
    t.providers.script('gas', [{ status: 503 }]);
    const fleet = t.system.startWorkers(['collect'], undefined, { random: () => 0.99 });
    const { requestId } = await t.ask();
    await t.waitForStatus(requestId, 'retrying');
    await fleet.close(1000);
    // As if this request had been tried under a larger COLLECT_MAX_ATTEMPTS: it is out of attempts now.
    // And its next try is due now (its retry, a minute away, is what Redis loses).
    await t.system.ctx.db('collections').where({ id: requestId }).update({ attempts: 2, next_attempt_at: new Date().toISOString() });
    await loseJobs();
    await sweep();
    t.system.startWorkers(['collect', 'callback']);
    const failed = await t.waitForStatus(requestId, 'failed');
    expect(failed.reason).to.match(/failed after 2 attempts/);
    expect(callsFor(requestId)).to.have.length(1);
  });

  it('drops the outcome of a run superseded by a later call (it lost its job while still running): the later call decides', async () => {
    t = opened(await createCollectionsTestSystem());
    const { db } = t.system.ctx;
    const { requestId } = await t.ask();
    const stale = (await beginAttempt(db, requestId))!;
    const live = (await beginAttempt(db, requestId))!;
    expect([stale, live]).to.deep.equal([1, 2]);
    expect(await recordRetry(db, requestId, stale, { durationMs: 5, statusCode: 503 }, 1000)).to.equal(undefined);
    expect((await findCollection(db, requestId))!.status).to.equal('collecting');
    const settled = await recordSuccess(db, requestId, live, { durationMs: 5, statusCode: 200 }, { provider: 'gas' });
    expect(settled?.collection).to.include({ status: 'succeeded', attempts: 1 });
    const read = await t.read(requestId);
    expect(read.attempts.map((a) => [a.attempt, a.outcome])).to.deep.equal([
      [1, 'interrupted'],
      [2, 'succeeded'],
    ]);
  });

  it('waits for its next try when its job comes back early (a worker died before the job was delayed), spending no attempt', async () => {
    t = opened(await createCollectionsTestSystem());
    const { requestId } = await t.ask();
    // As a worker that died between writing the retry and BullMQ delaying the job leaves it: retrying, the job waiting.
    const due = Date.now() + 1500;
    await t.system.ctx.db('collections').where({ id: requestId }).update({ status: 'retrying', attempts: 1, next_attempt_at: new Date(due).toISOString() });
    t.system.startWorkers(['collect']);
    const done = await t.waitForStatus(requestId, 'succeeded');
    expect(callsFor(requestId)[0]!.at).to.be.at.least(due - 100);
    expect(done.attempts).to.have.length(1);
    expect(done.attemptsMade).to.equal(2);
  });

  it('fails at once, with no call, a request for a provider this worker has no URL for', async () => {
    t = opened(await createCollectionsTestSystem({ INTERNET_PROVIDER_URL: '' }));
    t.system.startWorkers(['collect']);
    const { requestId } = await t.ask({ provider: 'internet' });
    const failed = await t.waitForStatus(requestId, 'failed');
    expect(failed.reason).to.contain('INTERNET_PROVIDER_URL is not set');
    expect(failed.attempts).to.deep.equal([]);
    expect(callsFor(requestId)).to.have.length(0);
  });

  it('rides out Redis killed mid-flow and restarted from its AOF: every request succeeds once, with one callback', async function () {
    this.timeout(60_000);
    const dir = await mkdtemp(join(tmpdir(), 'antaeus-redis-'));
    opened({ close: () => rm(dir, { recursive: true, force: true }) });
    const redis = await RedisServer.start({ dir, persistence: 'aof' });
    opened({ close: () => redis.stop() });
    t = opened(await createCollectionsTestSystem({ JOB_LOCK_MS: '1000' }, { redisUrl: redis.url, providers: { latencyMs: [20, 200], rates: { failure: 0.3 } } }));
    t.system.startWorkers(['collect', 'callback', 'maintenance']);
    // What a worker process runs: a callback not queued while Redis was down is a pending message the sweep queues.
    const clock = startSweepClock(t.system.ctx.queues, t.system.ctx.log, 300);
    opened({ close: () => clock.stop() });
    const asked = await Promise.all(Array.from({ length: 20 }, (_, i) => t.ask({ provider: i % 2 ? 'gas' : 'internet' })));
    await waitFor(() => t.providers.requests.length >= 10 || undefined, { what: 'the collections under way' });
    await redis.stop();
    await redis.start();
    const done = await Promise.all(asked.map((a) => t.waitForStatus(a.requestId, 'succeeded', 40_000)));
    for (const d of done) expect(d.attempts.filter((a) => a.outcome === 'succeeded'), d.requestId).to.have.length(1);
    await t.receiver.waitForRequests(20, 20_000);
    const messages = await t.system.ctx.db('callback_messages').where({ subject_type: 'collection' });
    expect(messages).to.have.length(20);
    expect(new Set(t.receiver.requests.map((r) => r.headers['webhook-id'])).size).to.equal(20);
  });
});
