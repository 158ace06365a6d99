// The one path of every charge (an invoice, a one-off payment; an order next): take the lease, call the provider with the key, map its refusals.
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../platform/config.js';
import type { Lease } from './leases.js';
import { CurrencyMismatchError, CustomerNotFoundError, type ChargeRequest, type ChargeResult, type PaymentProvider } from './provider/provider.js';

/** A charge in flight holds its row for twice the provider timeout: by then the call has ended, one way or the other. */
export function chargeLeaseMs(config: Pick<Config, 'paymentProviderTimeoutMs'>): number {
  return 2 * config.paymentProviderTimeoutMs;
}

/** The provider's idempotency key of each kind of charge: the same on every network retry of one attempt. */
export const chargeKeys = {
  /** New for each dunning attempt: a declined attempt's key would only ever get its decline back. */
  invoice: (invoiceId: string, dunningStep: number): string => `invoice-${invoiceId}-${dunningStep}`,
  oneOff: (paymentId: string): string => `payment-${paymentId}`,
};

/** What is charged, as the path sees it: the request, and how to take, give back and refuse its charge in the database. */
export interface Chargeable {
  request: ChargeRequest;
  /** Takes the charge for `leaseMs` with a conditional update; undefined when someone holds it or it is no longer due. */
  claim(leaseMs: number): Promise<Lease | undefined>;
  /** Gives the lease back after a call without an answer, so the retry need not wait for it to run out. */
  release(lease: Lease): Promise<void>;
  /** Records that the provider refused for good (no account for the customer, another currency): FAILED, with the reason. */
  refuse(reason: string): Promise<void>;
}

export interface ChargeContext {
  config: Pick<Config, 'paymentProviderTimeoutMs'>;
  services: { payments: PaymentProvider };
}

/** `held`: another attempt holds the charge, or it moved on; the caller looks again. Otherwise the provider's answer. */
export type ChargeAttempt = { held: true } | { held: false; result: ChargeResult };

/**
 * One attempt: only the lease holder calls the provider, with the subject's key, so a retry, a stalled job's twin or a
 * second job gets the first answer rather than a second charge. A refusal no retry can mend is recorded and stops the
 * job (UnrecoverableError); no answer gives the lease back and throws the provider's retryable error.
 */
export async function attemptCharge(ctx: ChargeContext, subject: Chargeable): Promise<ChargeAttempt> {
  const lease = await subject.claim(chargeLeaseMs(ctx.config));
  if (!lease) return { held: true };
  try {
    return { held: false, result: await ctx.services.payments.charge(subject.request) };
  } catch (err) {
    if (err instanceof CustomerNotFoundError || err instanceof CurrencyMismatchError) {
      await subject.refuse(err.message);
      throw new UnrecoverableError(err.message);
    }
    // No answer: the charge may have happened. The retry asks again with the same key and gets the first answer.
    await subject.release(lease).catch(() => undefined);
    throw err;
  }
}
