// A retry whose wait the handler has chosen (and recorded where clients see it): the worker waits exactly that long.
import { RetryableError } from './retryable.js';

export class ScheduledRetryError extends RetryableError {
  override name = 'ScheduledRetryError';
  constructor(
    message: string,
    /** The wait before the next attempt, as the handler drew it from its queue's backoff and wrote it down. */
    readonly delayMs: number,
  ) {
    super(message, delayMs);
  }
}
