// The order fulfilment service as Antaeus sees it: one idempotent call per paid order, and the ways it fails.
import { RetryableError } from '../platform/errors/retryable.js';

export interface FulfilmentRequest {
  orderId: string;
  customerId: string;
  /** In minor units (cents); sent as a decimal string in the currency's units, as the API shows amounts. */
  amountCents: number;
  /** ISO 4217, e.g. EUR. */
  currency: string;
  /** The same key always gets the first answer, so a retried request never fulfils an order twice. */
  idempotencyKey: string;
}

export interface Fulfilment {
  /** The service's id of the fulfilment, when its answer carries one. */
  id: string | null;
}

export interface FulfilmentService {
  /** Fulfils the order (2xx); throws FulfilmentRefusedError for good, FulfilmentUnavailableError to retry with the same key. */
  fulfil(request: FulfilmentRequest): Promise<Fulfilment>;
}

/** A 4xx other than 408 and 429 (and other than a key still in flight): the service will never fulfil this order. */
export class FulfilmentRefusedError extends Error {
  override name = 'FulfilmentRefusedError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    detail: string,
  ) {
    super(`fulfilment service refused the order with ${status} ${code ?? '(no error code)'}${detail ? `: ${detail}` : ''}`);
  }
}

/** No usable answer (timeout, refused connection, 5xx, 408, 429, the key still in flight): retry with the same key. */
export class FulfilmentUnavailableError extends RetryableError {
  override name = 'FulfilmentUnavailableError';
}
