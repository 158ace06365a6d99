// A dependency's circuit breaker is open: nothing was tried. The worker pauses the queue for the wait instead of spending an attempt.
import { RetryableError } from './retryable.js';

export class CircuitOpenError extends RetryableError {
  override name = 'CircuitOpenError';
  constructor(
    /** What the circuit guards, e.g. `payment provider`, `SMTP`. */
    readonly dependency: string,
    /** Until the breaker lets one trial call through. */
    retryAfterMs: number,
  ) {
    super(`${dependency} circuit open after repeated failures: not trying now`, retryAfterMs);
  }
}
