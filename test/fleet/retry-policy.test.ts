// Retry policy as pure functions: backoff arithmetic, Retry-After, and what a callback answer means.
import { expect } from 'chai';
import { QUEUE_NAMES } from '../../queues/jobs.js';
import { backoffDelay, COLLECT_MAX_WAIT_MS, MIN_RETRY_WINDOW_MS, queuePolicies, retryWindowMs, type Backoff } from '../../queues/policy.js';
import { callbackOutcome } from '../../shared/callbacks/outcome.js';
import { loadConfig } from '../../shared/platform/config.js';
import { parseRetryAfter } from '../../shared/platform/http.js';

const half = () => 0.5; // the middle of the jitter range: no jitter
const exponential: Backoff = { kind: 'exponential', baseMs: 1000, capMs: 10_000, jitter: 0.2 };
const schedule: Backoff = { kind: 'schedule', delaysMs: [5000, 300_000, 1_800_000], capMs: 3_600_000, jitter: 0.2 };

describe('retry policy', () => {
  it('doubles exponential waits up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(exponential, n, half))).to.deep.equal([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('follows a schedule and keeps its last entry', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(schedule, n, half))).to.deep.equal([5000, 300_000, 1_800_000, 1_800_000]);
  });

  it('spreads waits by the jitter fraction either way', () => {
    expect(backoffDelay(exponential, 2, () => 0)).to.equal(1600);
    expect(backoffDelay(exponential, 2, () => 0.999999)).to.be.closeTo(2400, 1);
  });

  it('honours a longer Retry-After, but never beyond the cap', () => {
    expect(backoffDelay(exponential, 1, half, 7000)).to.equal(7000);
    expect(backoffDelay(exponential, 1, half, 500)).to.equal(1000);
    expect(backoffDelay(exponential, 1, half, 60_000)).to.equal(10_000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-21T10:00:00Z');
    expect(parseRetryAfter('120', now)).to.equal(120_000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 10:00:30 GMT', now)).to.equal(30_000);
    expect(parseRetryAfter('soon', now)).to.equal(undefined);
    expect(parseRetryAfter(undefined, now)).to.equal(undefined);
  });

  it('classifies callback answers', () => {
    expect(callbackOutcome(200)).to.equal('delivered');
    expect(callbackOutcome(204)).to.equal('delivered');
    expect(callbackOutcome(410)).to.equal('gone');
    expect(callbackOutcome(400)).to.equal('failed');
    expect(callbackOutcome(404)).to.equal('failed');
    expect(callbackOutcome(408)).to.equal('retry');
    expect(callbackOutcome(429)).to.equal('retry');
    expect(callbackOutcome(302)).to.equal('retry');
    expect(callbackOutcome(500)).to.equal('retry');
    expect(callbackOutcome(503)).to.equal('retry');
    expect(callbackOutcome(undefined)).to.equal('retry');
  });

  it('gives every queue explicit attempts and one more callback attempt than schedule entries', () => {
    const policies = queuePolicies(loadConfig({ CALLBACK_RETRY_SCHEDULE: '1,2,3', WORKER_CONCURRENCY: 'charge=3' }));
    for (const policy of Object.values(policies)) expect(policy.attempts).to.be.greaterThan(1);
    expect(policies.callback.attempts).to.equal(4);
    expect(policies.charge.concurrency).to.equal(3);
  });

  it('keeps every queue retrying for at least two hours by default, even when every jitter draws short', () => {
    const policies = queuePolicies(loadConfig({}));
    // Data collection has its own maximum instead (below).
    for (const queue of QUEUE_NAMES.filter((q) => q !== 'collect')) {
      expect(retryWindowMs(policies[queue], () => 0), queue).to.be.at.least(MIN_RETRY_WINDOW_MS);
    }
    // And not absurdly longer: a job that is going to fail says so within a working day.
    expect(retryWindowMs(policies.charge, () => 0.999)).to.be.below(4 * 3_600_000);
  });

  it('scales the whole schedule with RETRY_BASE_DELAY_MS, so a test can compress it', () => {
    const full = queuePolicies(loadConfig({})).charge;
    const compressed = queuePolicies(loadConfig({ RETRY_BASE_DELAY_MS: '10' })).charge;
    expect(retryWindowMs(compressed, () => 0.5)).to.equal(retryWindowMs(full, () => 0.5) / 100);
  });

  describe('data collection', () => {
    const collect = (env: Record<string, string> = {}) => queuePolicies(loadConfig(env)).collect;

    it('calls the provider ten times by default (COLLECT_MAX_ATTEMPTS), with room in the job for 20 failures of our own', () => {
      expect(loadConfig({}).collectMaxAttempts).to.equal(10);
      expect(collect().attempts).to.equal(30);
      expect(collect({ COLLECT_MAX_ATTEMPTS: '4' }).attempts).to.equal(24);
    });

    it('draws each wait from zero to the doubling ceiling (full jitter)', () => {
      const { backoff } = collect();
      expect([1, 2, 3, 4].map((n) => backoffDelay(backoff, n, () => 0.999999))).to.deep.equal([1000, 2000, 4000, 8000]);
      expect([1, 2, 3, 4].map((n) => backoffDelay(backoff, n, () => 0.5))).to.deep.equal([500, 1000, 2000, 4000]);
      expect(backoffDelay(backoff, 5, () => 0)).to.equal(0);
    });

    it('never waits more than 15 minutes between tries, whatever the attempt, the base or a Retry-After', () => {
      expect(COLLECT_MAX_WAIT_MS).to.equal(15 * 60_000);
      const { backoff } = collect();
      expect(backoffDelay(backoff, 10, () => 0.999999)).to.be.closeTo(512_000, 1);
      for (const n of [11, 12, 20, 100]) expect(backoffDelay(backoff, n, () => 0.999999), `attempt ${n}`).to.be.at.most(COLLECT_MAX_WAIT_MS);
      expect(backoffDelay(backoff, 11, () => 0.999999)).to.be.closeTo(COLLECT_MAX_WAIT_MS, 1);
      expect(backoffDelay(collect({ RETRY_BASE_DELAY_MS: '3600000' }).backoff, 1, () => 0.999999)).to.be.closeTo(COLLECT_MAX_WAIT_MS, 1);
      expect(backoffDelay(backoff, 1, () => 0.5, 2 * 3_600_000)).to.equal(COLLECT_MAX_WAIT_MS);
    });

    it('honours a Retry-After longer than the drawn wait', () => {
      const { backoff } = collect();
      expect(backoffDelay(backoff, 1, () => 0.5, 5000)).to.equal(5000);
      expect(backoffDelay(backoff, 3, () => 0.5, 100)).to.equal(2000);
    });

    it('keeps its default ten calls within about eight and a half minutes at most', () => {
      // The sum of the ceilings 1 + 2 + … + 256 s: the longest a default collection can take before it is failed.
      expect(retryWindowMs({ ...collect(), attempts: 10 }, () => 0.999999)).to.be.closeTo(511_000, 10);
      expect(retryWindowMs({ ...collect(), attempts: 10 }, () => 0)).to.equal(0);
    });
  });
});
