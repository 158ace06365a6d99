// The payment provider as Antaeus sees it: one charge call, its answer, and the three ways it can fail.
import { RetryableError } from '../../platform/errors/retryable.js';

export interface ChargeRequest {
  customerId: string;
  /** In minor units (cents). */
  amountCents: number;
  /** ISO 4217, e.g. EUR. */
  currency: string;
  /** Our invoice, order or payment id: what the provider's ledger shows the charge is for. */
  reference: string;
  /** The same key always gets the first answer, so a retried request can never charge twice. */
  idempotencyKey: string;
}

export interface ChargeResult {
  /** true: charged; false: the account balance did not allow it. */
  charged: boolean;
  /** The provider's id of this charge (of the decline, when not charged). */
  chargeId: string;
}

export interface PaymentProvider {
  /** Charges the customer, or says the balance does not allow it; throws one of the errors below otherwise. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
}

/** The provider has no account for this customer: no retry can help. */
export class CustomerNotFoundError extends Error {
  override name = 'CustomerNotFoundError';
  constructor(readonly customerId: string) {
    super(`the payment provider has no account for customer ${customerId}`);
  }
}

/** The customer's account is in another currency: no retry can help. */
export class CurrencyMismatchError extends Error {
  override name = 'CurrencyMismatchError';
  constructor(
    readonly customerId: string,
    readonly currency: string,
  ) {
    super(`the account of customer ${customerId} is not in ${currency}`);
  }
}

/** No usable answer (timeout, refused connection, 5xx): the charge may or may not have happened; retry with the same key. */
export class NetworkError extends RetryableError {
  override name = 'NetworkError';
}
