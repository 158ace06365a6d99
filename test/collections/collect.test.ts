// The collect job against real local providers: success, retries with growing waits, Retry-After, the maximum, refusals, the breaker, and the signed callback.
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { jobIds } from '../../queues/jobs.js';
import { signingSecrets } from '../../shared/callbacks/secrets.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createCollectionsTestSystem, type CollectionsTestSystem } from '../helpers/collections.js';
import { waitFor } from '../helpers/wait.js';

describe('collecting data from a provider', () => {
  const opened = closedAfterEach();
  let t: CollectionsTestSystem;

  /** Workers for collect and callback; `random` pins the jitter so the waits can be read. */
  const startWorkers = (random?: () => number) => t.system.startWorkers(['collect', 'callback'], undefined, random ? { random } : {});

  /** The callbacks the client received, verified with the standardwebhooks library and the client's secret. */
  async function verifiedCallbacks(count: number): Promise<{ id: string; body: { type: string; data: Record<string, unknown> } }[]> {
    const requests = await t.receiver.waitForRequests(count);
    const [secret] = await signingSecrets(t.system.ctx.db, t.client.userId);
    return requests.map((r) => ({
      id: String(r.headers['webhook-id']),
      body: new Webhook(secret!.secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: Record<string, unknown> },
    }));
  }

  /** The request's job once in the failed set (the DLQ): the request is written failed just before its job gets there. */
  function failedJob(requestId: string) {
    return waitFor(
      async () => {
        const job = await t.system.ctx.queues.getJob('collect', jobIds.collect(requestId));
        return job?.failedReason && (await job.getState()) === 'failed' ? job : undefined;
      },
      { what: `the job of ${requestId} in the failed set` },
    );
  }

  it('succeeds on the first try: the data stored, one attempt, a signed collection.succeeded callback with the data', async () => {
    t = opened(await createCollectionsTestSystem());
    startWorkers();
    const { requestId, status } = await t.ask({ provider: 'gas' });
    expect(status).to.equal('pending');
    const done = await t.waitForStatus(requestId, 'succeeded');
    expect(done.data).to.include({ provider: 'gas' }).and.to.have.property('supplier');
    expect(done.attemptsMade).to.equal(1);
    expect(done.attempts).to.have.length(1);
    expect(done.attempts[0]).to.include({ attempt: 1, outcome: 'succeeded', statusCode: 200, error: null, waitMs: null });
    expect(done.attempts[0]!.durationMs).to.be.a('number');
    expect(done.completedAt).to.be.a('string');
    expect(t.providers.requests.filter((r) => r.requestId === requestId)).to.have.length(1);

    const [callback] = await verifiedCallbacks(1);
    expect(callback!.body.type).to.equal('collection.succeeded');
    expect(callback!.body.data).to.include({ requestId, provider: 'gas', status: 'succeeded', attemptsMade: 1 });
    expect(callback!.body.data.data).to.deep.equal(done.data);
    expect(done.callbacks).to.satisfy((cs: { id: string }[]) => cs.length === 1 && cs[0]!.id === callback!.id);
  });

  it('retries 503s with waits that grow, each drawn below its doubling ceiling, and then succeeds', async () => {
    t = opened(await createCollectionsTestSystem({ RETRY_BASE_DELAY_MS: '40', COLLECT_MAX_ATTEMPTS: '10' }));
    t.providers.script('internet', [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    startWorkers(() => 0.99);
    const { requestId } = await t.ask({ provider: 'internet' });
    const done = await t.waitForStatus(requestId, 'succeeded');
    expect(done.attempts.map((a) => [a.attempt, a.outcome, a.statusCode])).to.deep.equal([
      [1, 'retrying', 503],
      [2, 'retrying', 503],
      [3, 'retrying', 503],
      [4, 'retrying', 503],
      [5, 'succeeded', 200],
    ]);
    const waits = done.attempts.slice(0, 4).map((a) => a.waitMs!);
    // Full jitter draws from 0 to base × 2^(n-1): pinned near the top, the waits double.
    expect(waits).to.deep.equal([40, 80, 160, 320].map((ceiling) => Math.round(ceiling * 0.99)));
    expect(done.attemptsMade).to.equal(5);
    // The provider saw the waits: each call came no sooner than the wait before it.
    const calls = t.providers.requests.filter((r) => r.requestId === requestId).map((r) => r.at);
    expect(calls).to.have.length(5);
    for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!, `gap before call ${i + 1}`).to.be.at.least(waits[i - 1]! - 5);
    const [callback] = await verifiedCallbacks(1);
    expect(callback!.body.data).to.include({ status: 'succeeded', attemptsMade: 5 });
  });

  it('shows a retrying request with its attempt and the time of the next try', async () => {
    t = opened(await createCollectionsTestSystem({ RETRY_BASE_DELAY_MS: '1500' }));
    t.providers.script('gas', [{ status: 502 }]);
    startWorkers(() => 0.99);
    const { requestId } = await t.ask();
    const retrying = await t.waitForStatus(requestId, 'retrying');
    expect(retrying.attemptsMade).to.equal(1);
    const [first] = retrying.attempts;
    expect(first).to.include({ outcome: 'retrying', statusCode: 502, waitMs: 1485 });
    const due = Date.parse(retrying.nextAttemptAt as string);
    expect(due - Date.parse(first!.startedAt)).to.be.within(1485, 1485 + 3000);
    const done = await t.waitForStatus(requestId, 'succeeded');
    expect(done.nextAttemptAt).to.equal(null);
    const second = t.providers.requests.filter((r) => r.requestId === requestId)[1]!;
    expect(second.at).to.be.at.least(due - 5);
  });

  it('honours a 429 Retry-After longer than the drawn wait', async () => {
    t = opened(await createCollectionsTestSystem());
    t.providers.script('gas', [{ status: 429, retryAfter: '1' }]);
    startWorkers(() => 0.5);
    const { requestId } = await t.ask();
    const done = await t.waitForStatus(requestId, 'succeeded');
    expect(done.attempts[0]).to.include({ outcome: 'retrying', statusCode: 429, retryAfterMs: 1000, waitMs: 1000 });
    const [first, second] = t.providers.requests.filter((r) => r.requestId === requestId);
    expect(second!.at - first!.at).to.be.at.least(995);
  });

  it('fails critically once the maximum is reached: status failed, the job in the DLQ with the reason, a collection.failed callback', async () => {
    t = opened(await createCollectionsTestSystem({ COLLECT_MAX_ATTEMPTS: '3' }));
    t.providers.script('gas', [{ status: 503 }, { status: 500 }, { status: 504 }, { status: 503 }]);
    startWorkers();
    const { requestId } = await t.ask();
    const failed = await t.waitForStatus(requestId, 'failed');
    expect(failed.attempts.map((a) => [a.outcome, a.statusCode])).to.deep.equal([
      ['retrying', 503],
      ['retrying', 500],
      ['failed', 504],
    ]);
    expect(failed.attemptsMade).to.equal(3);
    expect(failed.reason).to.match(/failed after 3 attempts/).and.to.contain('504');
    const job = await failedJob(requestId);
    expect(job.failedReason).to.contain(failed.reason!);
    const [callback] = await verifiedCallbacks(1);
    expect(callback!.body.type).to.equal('collection.failed');
    expect(callback!.body.data).to.include({ requestId, status: 'failed', reason: failed.reason, attemptsMade: 3 });
    expect(callback!.body.data).to.not.have.property('data');
    expect(t.providers.requests.filter((r) => r.requestId === requestId)).to.have.length(3);
  });

  for (const [what, answer, reason] of [
    ['a 404', { status: 404 }, /answered 404/],
    ['an answer that is not JSON', 'not-json', /not JSON/],
    ['an answer over the size cap', 'oversize', /more than 1048576 bytes/],
  ] as const) {
    it(`fails at once on ${what}, with one attempt and no retry`, async () => {
      t = opened(await createCollectionsTestSystem());
      t.providers.script('gas', [answer]);
      startWorkers();
      const { requestId } = await t.ask();
      const failed = await t.waitForStatus(requestId, 'failed');
      expect(failed.attempts).to.have.length(1);
      expect(failed.attempts[0]!.outcome).to.equal('failed');
      expect(failed.reason).to.match(reason);
      expect((await failedJob(requestId)).failedReason).to.match(reason);
      const [callback] = await verifiedCallbacks(1);
      expect(callback!.body.type).to.equal('collection.failed');
      expect(t.providers.requests.filter((r) => r.requestId === requestId)).to.have.length(1);
    });
  }

  it('retries a provider that gives no answer in time', async () => {
    t = opened(await createCollectionsTestSystem({ COLLECT_TIMEOUT_MS: '300' }));
    t.providers.script('gas', ['timeout']);
    startWorkers();
    const { requestId } = await t.ask();
    const done = await t.waitForStatus(requestId, 'succeeded');
    expect(done.attempts[0]).to.include({ outcome: 'retrying', statusCode: null });
    expect(done.attempts[0]!.error).to.match(/no answer within 300 ms/);
  });

  it('holds a provider that is down behind its breaker: waiting collections spend no attempts, and the other provider goes on', async () => {
    t = opened(await createCollectionsTestSystem({ COLLECT_MAX_ATTEMPTS: '30', COLLECT_BREAKER_RESET_MS: '300' }));
    t.providers.setRates({ failure: 1 }, 'gas');
    startWorkers();
    const gas = await Promise.all([1, 2, 3, 4, 5, 6].map(() => t.ask({ provider: 'gas' })));
    // Down long enough for the breaker to open and be probed several times.
    await waitFor(() => t.providers.requests.filter((r) => r.provider === 'gas').length >= 12 || undefined, { timeoutMs: 15_000, what: '12 calls to gas' });
    const internet = await t.ask({ provider: 'internet' });
    expect((await t.waitForStatus(internet.requestId, 'succeeded')).attemptsMade).to.equal(1);
    t.providers.setRates({}, 'gas');
    const done = await Promise.all(gas.map((g) => t.waitForStatus(g.requestId, 'succeeded', 20_000)));
    // Every call the provider saw is an attempt on some request, and no attempt is a call not made.
    const gasCalls = t.providers.requests.filter((r) => r.provider === 'gas').length;
    expect(done.reduce((sum, d) => sum + d.attempts.length, 0)).to.equal(gasCalls);
    // Without the breaker six requests failing for that long would have called far more often, and some would be out of attempts.
    expect(done.every((d) => d.attemptsMade < 30)).to.equal(true);
  });

  it('holds only the down provider\'s jobs, not the queue: while the gas circuit is open, gas is not called and internet is collected', async () => {
    t = opened(await createCollectionsTestSystem({ COLLECT_MAX_ATTEMPTS: '30', COLLECT_BREAKER_RESET_MS: '5000' }));
    t.providers.setRates({ failure: 1 }, 'gas');
    startWorkers();
    const gas = await Promise.all([1, 2, 3, 4].map(() => t.ask({ provider: 'gas' })));
    // The circuit is open once a gas request is told its next try waits for it (the whole reset, not a backoff).
    await waitFor(
      async () => {
        const reads = await Promise.all(gas.map((g) => t.read(g.requestId)));
        return reads.some((r) => r.nextAttemptAt && Date.parse(r.nextAttemptAt as string) - Date.now() > 3000) || undefined;
      },
      { what: 'a gas request waiting for the open circuit' },
    );
    const gasCalls = () => t.providers.requests.filter((r) => r.provider === 'gas').length;
    const callsWhenOpen = gasCalls();
    const internet = await t.ask({ provider: 'internet' });
    // A paused queue would hold this for the whole reset (5 s).
    expect((await t.waitForStatus(internet.requestId, 'succeeded', 2500)).attemptsMade).to.equal(1);
    expect(gasCalls()).to.equal(callsWhenOpen);
  });
});
