// What a client's answer to a callback means: delivered, worth another attempt, refused, or gone for good.

export type CallbackOutcome = 'delivered' | 'retry' | 'failed' | 'gone';

/**
 * What a client's answer means: 2xx delivered; 410 the endpoint is gone for good; other 4xx are the
 * client refusing this message, so retrying cannot help — except 408 and 429, which ask us to come back.
 * Everything else (3xx: redirects are not followed, 5xx, no answer) is worth another attempt.
 */
export function callbackOutcome(statusCode: number | undefined): CallbackOutcome {
  if (statusCode === undefined) return 'retry';
  if (statusCode >= 200 && statusCode < 300) return 'delivered';
  if (statusCode === 410) return 'gone';
  if (statusCode === 408 || statusCode === 429) return 'retry';
  if (statusCode >= 400 && statusCode < 500) return 'failed';
  return 'retry';
}
