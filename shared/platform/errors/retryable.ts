// A failure worth another attempt; `retryAfterMs` (from a Retry-After header) lengthens the next wait.
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
