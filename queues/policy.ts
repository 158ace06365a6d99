// Retry policy as data: attempts, backoff and concurrency per queue, and the pure functions that compute each wait.
import type { Config } from '../shared/platform/config.js';
import type { QueueName } from './jobs.js';

export type Backoff =
  /** base × 2^(n-1), ± jitter, never above cap. */
  | { kind: 'exponential'; baseMs: number; capMs: number; jitter: number }
  /** The n-th entry of a fixed schedule (Svix style), ± jitter, never above cap. */
  | { kind: 'schedule'; delaysMs: number[]; capMs: number; jitter: number };

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

export function queuePolicies(
  config: Pick<Config, 'retryBaseDelayMs' | 'callbackRetrySchedule' | 'workerConcurrency' | 'jobAttempts'>,
): Record<QueueName, QueuePolicy> {
  const exponential = (capMs: number): Backoff => ({ kind: 'exponential', baseMs: config.retryBaseDelayMs, capMs, jitter: 0.2 });
  const policies: Record<QueueName, QueuePolicy> = {
    'invoice-save': { attempts: 10, backoff: exponential(5 * 60_000), concurrency: 10, maxStalledCount: 1 },
    // 15 attempts reach about four hours: an SMTP or PEC outage of an hour or two is ridden out before NOT_SENT.
    'sdi-send': { attempts: 15, backoff: exponential(HOUR), concurrency: 5, maxStalledCount: 1 },
    // A charge is safe to run again after any crash (lease and idempotency key), and a stuck one leaves an invoice
    // unpaid: let it survive many lost workers rather than land in the DLQ for a rolling restart.
    charge: { attempts: 8, backoff: exponential(HOUR), concurrency: 20, maxStalledCount: 20 },
    billing: { attempts: 5, backoff: exponential(10 * 60_000), concurrency: 1, maxStalledCount: 5 },
    callback: {
      attempts: config.callbackRetrySchedule.length + 1,
      backoff: { kind: 'schedule', delaysMs: config.callbackRetrySchedule.map((s) => s * 1000), capMs: 24 * HOUR, jitter: 0.2 },
      concurrency: 20,
      maxStalledCount: 1,
    },
    reports: { attempts: 3, backoff: exponential(10 * 60_000), concurrency: 1, maxStalledCount: 1 },
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
  const nominal =
    backoff.kind === 'exponential'
      ? backoff.baseMs * 2 ** (n - 1)
      : (backoff.delaysMs[Math.min(n, backoff.delaysMs.length) - 1] ?? 0);
  const jittered = nominal * (1 - backoff.jitter + 2 * backoff.jitter * random());
  const wanted = Math.max(jittered, retryAfterMs ?? 0);
  return Math.round(Math.min(wanted, backoff.capMs));
}
