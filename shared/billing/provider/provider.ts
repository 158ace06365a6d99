// The payment provider as Antaeus sees it: a charge call and its answer, the provider's ledger for one reference, and the ways they fail.
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

/** One entry of the provider's ledger: a charge, or a decline, made for a reference with whatever key. */
export interface ProviderCharge {
  /** The provider's id, the `chargeId` its charge answered. */
  id: string;
  reference: string;
  /** In minor units (cents). */
  amountCents: number;
  /** ISO 4217, e.g. EUR. */
  currency: string;
  /** false: a decline for the balance, which moved no money. */
  charged: boolean;
  /** ISO 8601, as the provider gives it. */
  createdAt: string;
  /** The refunds made of this charge, oldest first; empty when none. */
  refunds: ProviderRefund[];
}

/** A refund as the provider's ledger shows it, under the charge it gave money back from. */
export interface ProviderRefund {
  /** The provider's id, the `refundId` its refund answered. */
  id: string;
  /** In minor units (cents). */
  amountCents: number;
  /** ISO 8601, as the provider gives it. */
  createdAt: string;
}

/** A customer's account at the provider: what a balance check compares an amount with. */
export interface AccountBalance {
  /** In minor units (cents). */
  balanceCents: number;
  /** ISO 4217, e.g. EUR. */
  currency: string;
}

export interface RefundRequest {
  /** The provider's id of the charge to give money back from. */
  chargeId: string;
  /** In minor units (cents), at most what remains unrefunded of the charge. */
  amountCents: number;
  /** Our order (or payment) id the refund is for. */
  reference: string;
  /** The same key always gets the first answer, so a retried refund never pays back twice. */
  idempotencyKey: string;
}

export interface RefundResult {
  /** The provider's id of the refund. */
  refundId: string;
  refunded: boolean;
}

export interface PaymentProvider {
  /** Charges the customer, or says the balance does not allow it; throws one of the errors below otherwise. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /**
   * The provider's ledger for one reference, in the provider's order, whatever key each charge used: what settles a
   * charge whose answer was lost, even once the provider has forgotten its key. Throws NetworkError when there is no
   * usable answer, ProviderRejectedError when the provider refuses the request.
   */
  chargesFor(reference: string): Promise<ProviderCharge[]>;
  /** `GET /accounts/:customerId`: the balance and currency; throws CustomerNotFoundError, NetworkError, ProviderRejectedError. */
  account(customerId: string): Promise<AccountBalance>;
  /**
   * `POST /refunds` with the request's key: the same key returns the first answer. Throws RefundRefusedError when the
   * provider refuses this refund (no such charge, a decline, more than is left), KeyInUseError, NetworkError or
   * ProviderRejectedError otherwise.
   */
  refund(request: RefundRequest): Promise<RefundResult>;
}

/**
 * The provider refused the refund itself: `charge_not_found` (404), `charge_not_captured` (409: a decline moved no
 * money) or `refund_exceeds_charge` (409: less is left of the charge than asked, e.g. it was refunded already under
 * a key the provider has forgotten). The same request will be refused again; the ledger says what became of the charge.
 */
export class RefundRefusedError extends Error {
  override name = 'RefundRefusedError';
  constructor(
    readonly code: 'charge_not_found' | 'charge_not_captured' | 'refund_exceeds_charge',
    detail: string,
  ) {
    super(`payment provider refused the refund with ${code}${detail ? `: ${detail}` : ''}`);
  }
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

/** No usable answer (timeout, refused connection, 5xx, 408, 429): the charge may or may not have happened; retry with the same key. */
export class NetworkError extends RetryableError {
  override name = 'NetworkError';
}

/** How long to wait before retrying a key the provider is still processing, when it does not say (Retry-After). */
export const KEY_IN_USE_RETRY_MS = 1000;

/**
 * 409 idempotency_key_in_use: another request with this key is still being processed at the provider (a retry that
 * overtook a slow first attempt). Its outcome is not known yet: retry with the same key after a short wait.
 */
export class KeyInUseError extends RetryableError {
  override name = 'KeyInUseError';
  constructor(
    readonly idempotencyKey: string,
    retryAfterMs: number = KEY_IN_USE_RETRY_MS,
  ) {
    super(`the payment provider is still processing a request with the idempotency key ${idempotencyKey}; retry later`, retryAfterMs);
  }
}

/**
 * The provider refused our request for good (a 4xx other than 408 and 429, and other than the customer's own errors
 * above): our request or our configuration is wrong, never the customer's fault. Retrying the same request cannot help,
 * and nothing was charged by it.
 */
export class ProviderRejectedError extends Error {
  override name = 'ProviderRejectedError';
  constructor(
    /** The HTTP status, e.g. 400. */
    readonly status: number,
    /** The answer's `error.code`, e.g. `invalid_request`; undefined when the answer had none (an HTML 404 page). */
    readonly code: string | undefined,
    /** The answer's `error.message`, or an excerpt of its body. */
    detail: string,
  ) {
    super(
      `payment provider refused the request with ${status} ${code ?? '(no error code)'}${detail ? `: ${detail}` : ''}; check PAYMENT_PROVIDER_URL and the request`,
    );
  }
}
