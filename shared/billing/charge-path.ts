// The one path of every charge (an invoice, a one-off payment, an order): take the lease, ask the ledger after a lost answer, call the provider with the key, map its refusals.
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../platform/config.js';
import type { Lease } from './leases.js';
import {
  CurrencyMismatchError,
  CustomerNotFoundError,
  ProviderRejectedError,
  type ChargeRequest,
  type ChargeResult,
  type PaymentProvider,
  type ProviderCharge,
} from './provider/provider.js';

/** A charge in flight holds its row for twice the provider timeout: by then the call has ended, one way or the other. */
export function chargeLeaseMs(config: Pick<Config, 'paymentProviderTimeoutMs'>): number {
  return 2 * config.paymentProviderTimeoutMs;
}

/** The provider's idempotency key of each kind of charge: the same on every network retry of one attempt. */
export const chargeKeys = {
  /** New for each dunning attempt: a declined attempt's key would only ever get its decline back. */
  invoice: (invoiceId: string, dunningStep: number): string => `invoice-${invoiceId}-${dunningStep}`,
  oneOff: (paymentId: string): string => `payment-${paymentId}`,
  /** An order is charged once: checkout's balance check comes first, and a decline fails the order. */
  order: (orderId: string): string => `order-${orderId}`,
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
  /** Records why the charge cannot be made as configured (the provider rejected our request): still owed, so still PENDING. */
  holdBack(reason: string): Promise<void>;
  /** The provider's ids of this subject's charges whose outcome is recorded already (earlier dunning attempts). */
  recordedChargeIds(): Promise<string[]>;
}

export interface ChargeContext {
  config: Pick<Config, 'paymentProviderTimeoutMs'>;
  services: { payments: PaymentProvider };
}

/**
 * `held`: another attempt holds the charge, or it moved on; the caller looks again. Otherwise the provider's answer,
 * `fromLedger` when it was read from the provider's ledger rather than answered to a charge call.
 */
export type ChargeAttempt = { held: true } | { held: false; result: ChargeResult; fromLedger: boolean };

/**
 * One attempt: only the lease holder calls the provider, with the subject's key, so a retry, a stalled job's twin or a
 * second job gets the first answer rather than a second charge. After a call whose answer was lost, the provider's
 * ledger is asked first: a provider forgets keys (Stripe after 24 hours), and then only the ledger knows. A refusal no
 * retry can mend is recorded and stops the job (UnrecoverableError); no answer gives the lease back and throws the
 * provider's retryable error.
 */
export async function attemptCharge(ctx: ChargeContext, subject: Chargeable): Promise<ChargeAttempt> {
  const lease = await subject.claim(chargeLeaseMs(ctx.config));
  if (!lease) return { held: true };
  try {
    if (lease.earlierCalls > 0) {
      const settled = await settledByLedger(ctx.services.payments, subject);
      if (settled) return { held: false, result: settled, fromLedger: true };
    }
    return { held: false, result: await ctx.services.payments.charge(subject.request), fromLedger: false };
  } catch (err) {
    if (err instanceof CustomerNotFoundError || err instanceof CurrencyMismatchError) {
      await subject.refuse(err.message);
      throw new UnrecoverableError(err.message);
    }
    if (err instanceof ProviderRejectedError) {
      // Our request or configuration is wrong, not the customer: the money is still owed, and no retry will mend it.
      await subject.holdBack(err.message);
      throw new UnrecoverableError(err.message);
    }
    // No answer: the charge may have happened. The retry asks the ledger, then again with the same key.
    await subject.release(lease).catch(() => undefined);
    throw err;
  }
}

/**
 * What the provider's ledger says became of the subject's unrecorded charge: a charge for its reference, amount and
 * currency that is not recorded yet. A success wins over a decline; nothing found means nothing was charged.
 */
export async function settledByLedger(payments: PaymentProvider, subject: Pick<Chargeable, 'request' | 'recordedChargeIds'>): Promise<ChargeResult | undefined> {
  const { reference, amountCents, currency } = subject.request;
  const [entries, recorded] = await Promise.all([payments.chargesFor(reference), subject.recordedChargeIds()]);
  const known = new Set(recorded);
  const ours = entries.filter((e: ProviderCharge) => !known.has(e.id) && e.amountCents === amountCents && e.currency === currency);
  const found = ours.find((e) => e.charged) ?? ours[0];
  return found && { charged: found.charged, chargeId: found.id };
}
