// What a data provider is to a collection: one GET answering a JSON document, and the two ways it can fail (try again later, or never).
import { RetryableError } from '../platform/errors/retryable.js';

/** A document the provider answered. */
export interface ProviderAnswer {
  statusCode: number;
  /** The parsed JSON document: an object or an array. */
  data: unknown;
}

export interface DataProvider {
  /** GETs the provider's document for a request; `requestId` goes along as `X-Request-Id` so both sides can trace the call. */
  fetchDocument(requestId: string): Promise<ProviderAnswer>;
}

/** Worth another try: a 5xx, 408 or 429, a timeout, a refused or reset connection. */
export class ProviderUnavailableError extends RetryableError {
  override name = 'ProviderUnavailableError';
  constructor(
    message: string,
    /** The provider's HTTP status; null when it gave no answer. */
    readonly statusCode: number | null,
    retryAfterMs?: number,
  ) {
    super(message, retryAfterMs);
  }
}

/** Not worth another try, the fault being ours or the configuration's: a 4xx (but 408 and 429), a redirect, an answer that is not JSON or too large. */
export class ProviderRefusedError extends Error {
  override name = 'ProviderRefusedError';
  constructor(
    message: string,
    readonly statusCode: number | null,
  ) {
    super(message);
  }
}
