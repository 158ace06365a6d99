// A dependency's circuit breaker is open: nothing was tried. The worker holds the queue, or only the job, for the wait instead of spending an attempt.
import { RetryableError } from './retryable.js';

/**
 * What waits while a circuit is open: `queue` pauses the whole queue (every job of it needs the one dependency, e.g.
 * the payment provider); `job` delays only this job (the queue serves several dependencies, e.g. one per data
 * provider, and the others must go on).
 */
export type CircuitWait = 'queue' | 'job';

export class CircuitOpenError extends RetryableError {
  override name = 'CircuitOpenError';
  constructor(
    /** What the circuit guards, e.g. `payment provider`, `SMTP`. */
    readonly dependency: string,
    /** Until the breaker lets one trial call through. */
    retryAfterMs: number,
    readonly waits: CircuitWait = 'queue',
  ) {
    super(`${dependency} circuit open after repeated failures: not trying now`, retryAfterMs);
  }
}
