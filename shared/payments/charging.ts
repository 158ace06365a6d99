// The charge state of invoices and one-off payments: a lease so one worker at a time may call the provider, and the settlement.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { nowIso } from '../db.js';
import { paymentIdForCharge } from '../ids.js';
import type { Invoice } from '../invoices.js';
import { userIdOfActor } from '../callbacks.js';
import { insertPayment, type PaymentRecordStatus } from './payments.js';

export type ChargeTable = 'invoices' | 'payments';

/** The column that says a charge is still to be made, and the value that says so. */
const PENDING: Record<ChargeTable, [string, string]> = { invoices: ['payment_status', 'PENDING'], payments: ['status', 'PENDING'] };

export interface Lease {
  token: string;
  until: string;
}

/**
 * Takes the charge of one row for `leaseMs`, if it is still to be charged and nobody holds it: a conditional update,
 * so of two workers (a stalled job run twice, two jobs for one invoice) only one ever calls the provider.
 * `where` narrows the row further, e.g. to the dunning step the caller is about to charge.
 */
export async function claimCharge(db: Knex, table: ChargeTable, id: string, leaseMs: number, where: Record<string, unknown> = {}): Promise<Lease | undefined> {
  const now = new Date();
  const lease = { token: randomUUID(), until: new Date(now.getTime() + leaseMs).toISOString() };
  const [column, pending] = PENDING[table];
  const query = db(table)
    .where({ id, [column]: pending, ...where })
    .andWhere((q) => q.whereNull('charge_lease_until').orWhere('charge_lease_until', '<', now.toISOString()));
  // An invoice waiting for its next dunning attempt is not due yet, whoever asks.
  if (table === 'invoices') query.andWhere((q) => q.whereNull('next_charge_at').orWhere('next_charge_at', '<=', now.toISOString()));
  const updated = await query.update({ charge_lease_token: lease.token, charge_lease_until: lease.until });
  return updated === 1 ? lease : undefined;
}

/** Gives the lease back after a failed call, so the retry need not wait for it to run out. */
export async function releaseCharge(db: Knex, table: ChargeTable, id: string, lease: Lease): Promise<void> {
  await db(table).where({ id, charge_lease_token: lease.token }).update({ charge_lease_token: null, charge_lease_until: null });
}

export type InvoiceChargeOutcome =
  | { status: 'PAID'; chargeId: string }
  | { status: 'DECLINED'; chargeId: string; reason: string; nextStep: number; nextChargeAt: string }
  | { status: 'FAILED'; chargeId?: string; reason: string };

/**
 * Records what the charge with `key` came to: the invoice's payment status and the payment, in one transaction.
 * Conditional on the invoice still being PENDING at `step`, so whoever records an attempt's outcome second
 * (a worker that lost its lease, a stalled job's twin) changes nothing. Returns whether this call recorded it.
 */
export async function settleInvoiceCharge(db: Knex, invoice: Invoice, step: number, key: string, outcome: InvoiceChargeOutcome): Promise<boolean> {
  const at = nowIso();
  const release = { charge_lease_token: null, charge_lease_until: null, updated_at: at, updated_by: 'worker:charge' };
  const set =
    outcome.status === 'PAID'
      ? { ...release, payment_status: 'PAID', payment_failure_reason: null, next_charge_at: null }
      : outcome.status === 'DECLINED'
        ? { ...release, dunning_step: outcome.nextStep, next_charge_at: outcome.nextChargeAt, payment_failure_reason: outcome.reason }
        : { ...release, payment_status: 'FAILED', payment_failure_reason: outcome.reason, next_charge_at: null };
  return db.transaction(async (trx) => {
    const updated = await trx('invoices').where({ id: invoice.id, payment_status: 'PENDING', dunning_step: step }).update(set);
    if (updated !== 1) return false;
    await insertPayment(trx, {
      id: paymentIdForCharge(key),
      kind: 'invoice',
      invoiceId: invoice.id,
      customerId: invoice.customerId,
      userId: userIdOfActor(invoice.createdBy) ?? null,
      amountCents: invoice.totalCents,
      currency: invoice.currency,
      status: outcome.status,
      reason: outcome.status === 'PAID' ? null : outcome.reason,
      idempotencyKey: key,
      providerChargeId: outcome.chargeId ?? null,
      dunningStep: step,
    });
    return true;
  });
}

/** Records a one-off payment's outcome, if it is still PENDING. */
export async function settleOneOffPayment(
  db: Knex,
  paymentId: string,
  outcome: { status: Exclude<PaymentRecordStatus, 'PENDING' | 'DECLINED'>; chargeId?: string; reason?: string },
): Promise<boolean> {
  const updated = await db('payments')
    .where({ id: paymentId, status: 'PENDING' })
    .update({
      status: outcome.status,
      reason: outcome.reason ?? null,
      provider_charge_id: outcome.chargeId ?? null,
      charge_lease_token: null,
      charge_lease_until: null,
      updated_at: nowIso(),
    });
  return updated === 1;
}

/** Attempts ran out without an answer: the charge may or may not have happened, so the row stays PENDING with the reason. */
export async function recordUnsettledCharge(db: Knex, table: ChargeTable, id: string, reason: string): Promise<void> {
  const [column, pending] = PENDING[table];
  const reasonColumn = table === 'invoices' ? 'payment_failure_reason' : 'reason';
  await db(table).where({ id, [column]: pending }).update({ [reasonColumn]: reason, charge_lease_token: null, charge_lease_until: null, updated_at: nowIso() });
}
