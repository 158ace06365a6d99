// Retry policy as pure functions: backoff arithmetic, Retry-After, and what a callback answer means.
import { expect } from 'chai';
import { QUEUE_NAMES } from '../../queues/jobs.js';
import { backoffDelay, MIN_RETRY_WINDOW_MS, queuePolicies, retryWindowMs, type Backoff } from '../../queues/policy.js';
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
    for (const queue of QUEUE_NAMES) {
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
});
