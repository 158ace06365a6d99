// Retry policy as data: attempts, backoff and concurrency per queue, and the pure functions that compute each wait.
import type { Config } from '../shared/platform/config.js';
import type { QueueName } from './jobs.js';

export type Backoff =
  /** base × 2^(n-1), ± jitter, never above cap. */
  | { kind: 'exponential'; baseMs: number; capMs: number; jitter: number }
  /** The n-th entry of a fixed schedule (Svix style), ± jitter, never above cap. */
  | { kind: 'schedule'; delaysMs: number[]; capMs: number; jitter: number }
  /** Full jitter (AWS's name): anywhere from 0 to min(cap, base × 2^(n-1)), so clients that failed together spread out. */
  | { kind: 'full-jitter'; baseMs: number; capMs: number };

export interface QueuePolicy {
  attempts: number;
  backoff: Backoff;
  concurrency: number;
  /** How often a job may lose its worker (killed, frozen) before it is failed as stalled; BullMQ's default is 1. */
  maxStalledCount: number;
}

/** Completed jobs stay an hour (so `waitUntilFinished` and Bull Board can see them), at most 1,000. */
export const KEEP_COMPLETED = { age: 3600, count: 1000 };
/** Failed jobs are the DLQ: they stay a week, at most 50,000 per queue, so Redis memory stays bounded. */
export const KEEP_FAILED = { age: 7 * 24 * 3600, count: 50_000 };

const HOUR = 3_600_000;

/** The shortest any queue keeps retrying: a dependency down for an hour, and as long again to spare (the spec's two hours). */
export const MIN_RETRY_WINDOW_MS = 2 * HOUR;

/**
 * Exponential retries from RETRY_BASE_DELAY_MS, doubling up to 900 times it (15 minutes at the default 1 s), 20
 * attempts: at least 2 h 27 min of retries even when the jitter draws short every time, and no hour-long silence
 * after a dependency returns. The whole schedule scales with the base, so tests compress it by shortening the base.
 */
const OUTAGE_ATTEMPTS = 20;
const CAP_IN_BASES = 900;

/** The longest wait between two tries of a data collection, whatever the base: the spec's 15 minutes. */
export const COLLECT_MAX_WAIT_MS = 15 * 60_000;

/** The wait between provider calls of a data collection: full jitter from RETRY_BASE_DELAY_MS, never above 15 minutes. */
export function collectBackoff(config: Pick<Config, 'retryBaseDelayMs'>): Backoff {
  return { kind: 'full-jitter', baseMs: config.retryBaseDelayMs, capMs: COLLECT_MAX_WAIT_MS };
}

export function queuePolicies(
  config: Pick<Config, 'retryBaseDelayMs' | 'callbackRetrySchedule' | 'workerConcurrency' | 'jobAttempts' | 'collectMaxAttempts'>,
): Record<QueueName, QueuePolicy> {
  const outage: Backoff = { kind: 'exponential', baseMs: config.retryBaseDelayMs, capMs: config.retryBaseDelayMs * CAP_IN_BASES, jitter: 0.2 };
  const policies: Record<QueueName, QueuePolicy> = {
    // The database and Redis are the dependencies: an hour-long database outage is ridden out.
    'invoice-save': { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 10, maxStalledCount: 1 },
    // An SMTP or PEC outage of an hour or two is ridden out before NOT_SENT; while the breaker is open no attempt is spent.
    'sdi-send': { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 5, maxStalledCount: 1 },
    // A charge is safe to run again after any crash (lease, ledger and idempotency key), and a stuck one leaves an
    // invoice unpaid: let it survive many lost workers rather than land in the DLQ for a rolling restart.
    charge: { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 20, maxStalledCount: 20 },
    billing: { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 1, maxStalledCount: 5 },
    callback: {
      attempts: config.callbackRetrySchedule.length + 1,
      backoff: { kind: 'schedule', delaysMs: config.callbackRetrySchedule.map((s) => s * 1000), capMs: 24 * HOUR, jitter: 0.2 },
      concurrency: 20,
      maxStalledCount: 1,
    },
    // Data collection has its own maximum (COLLECT_MAX_ATTEMPTS), not an outage-sized window: the collection is then
    // critically failed for someone to review. Full jitter, capped at 15 minutes whatever the base. A provider call is
    // a read, safe to repeat after any crash, so a collection survives many lost workers.
    collect: {
      // BullMQ counts every failure, ours (the database down) included; the provider calls are counted in the database,
      // against COLLECT_MAX_ATTEMPTS. The job has room beyond them for as many failures of our own as any queue.
      attempts: config.collectMaxAttempts + OUTAGE_ATTEMPTS,
      backoff: collectBackoff(config),
      concurrency: 20,
      maxStalledCount: 20,
    },
    // Like a charge, every step is safe to run again after any crash (compare-and-set, leases, idempotency keys): an
    // order's step survives many lost workers; a fulfilment or payment outage of an hour is ridden out before a refund.
    orders: { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 20, maxStalledCount: 20 },
    // An SMTP outage of an hour or two is ridden out; while the breaker is open no attempt is spent. A mail whose worker
    // died mid-send is sent again (under the same Message-ID) rather than left unsent in the DLQ by a rolling restart.
    mail: { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 5, maxStalledCount: 20 },
    reports: { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 1, maxStalledCount: 1 },
    // A sweep or a reconcile that fails is also replaced by the next one on the schedule; retrying it costs nothing.
    maintenance: { attempts: OUTAGE_ATTEMPTS, backoff: outage, concurrency: 2, maxStalledCount: 5 },
  };
  for (const [queue, concurrency] of Object.entries(config.workerConcurrency) as [QueueName, number][]) {
    policies[queue] = { ...policies[queue], concurrency };
  }
  for (const [queue, attempts] of Object.entries(config.jobAttempts) as [QueueName, number][]) {
    policies[queue] = { ...policies[queue], attempts };
  }
  return policies;
}

/**
 * The wait before the next attempt, after `attemptsMade` attempts have failed.
 * `random` returns [0, 1); jitter spreads retries so a recovered dependency is not hit all at once.
 * A server's Retry-After wins over a shorter computed wait, but never over the cap.
 */
export function backoffDelay(backoff: Backoff, attemptsMade: number, random: () => number, retryAfterMs?: number): number {
  const n = Math.max(1, attemptsMade);
  const jittered =
    backoff.kind === 'full-jitter'
      ? random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** (n - 1))
      : nominalDelay(backoff, n) * (1 - backoff.jitter + 2 * backoff.jitter * random());
  const wanted = Math.max(jittered, retryAfterMs ?? 0);
  return Math.round(Math.min(wanted, backoff.capMs));
}

function nominalDelay(backoff: Exclude<Backoff, { kind: 'full-jitter' }>, n: number): number {
  return backoff.kind === 'exponential' ? backoff.baseMs * 2 ** (n - 1) : (backoff.delaysMs[Math.min(n, backoff.delaysMs.length) - 1] ?? 0);
}

/**
 * How long a job keeps retrying before it gives up: the sum of its waits between `attempts` attempts. With
 * `random` always 0 every wait draws the shortest jitter: the window the policy guarantees.
 */
export function retryWindowMs(policy: Pick<QueuePolicy, 'attempts' | 'backoff'>, random: () => number = () => 0): number {
  let total = 0;
  for (let n = 1; n < policy.attempts; n += 1) total += backoffDelay(policy.backoff, n, random);
  return total;
}
