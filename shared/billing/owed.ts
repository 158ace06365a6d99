// What the database says the billing side still owes: charges a run took or dunning set due, one-off payments to make, charges whose outcome is unknown.
import type { Knex } from 'knex';
import { CHARGEABLE_STATUSES } from '../invoices/status.js';
import { toIso, toNumber } from '../platform/db.js';

export interface OwedCharge {
  invoiceId: string;
  dunningStep: number;
  /** When the next dunning attempt is due; null: now. */
  nextChargeAt: string | null;
}

/**
 * A page of invoice charges owed, by id after `afterId`: PENDING, accepted by the SdI, with something to charge, and
 * taken by a billing run (an invoice no run took waits for the next one). Those with a charge in flight are left alone.
 */
export async function chargesOwed(db: Knex, now: Date, afterId: string | null, limit: number): Promise<OwedCharge[]> {
  const query = db('invoices')
    .select('id', 'dunning_step', 'next_charge_at')
    .where('payment_status', 'PENDING')
    .whereIn('status', CHARGEABLE_STATUSES)
    .andWhere('total_cents', '>', 0)
    .whereNotNull('billing_run_id')
    .andWhere((q) => q.whereNull('charge_lease_until').orWhere('charge_lease_until', '<', now.toISOString()))
    .orderBy('id')
    .limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Record<string, unknown>) => ({
    invoiceId: String(r.id),
    dunningStep: toNumber(r.dunning_step),
    nextChargeAt: r.next_charge_at == null ? null : toIso(r.next_charge_at),
  }));
}

/** A page of one-off payments still to charge, by id after `afterId`. */
export async function oneOffPaymentsOwed(db: Knex, now: Date, afterId: string | null, limit: number): Promise<string[]> {
  const query = db('payments')
    .select('id')
    .where({ kind: 'one-off', status: 'PENDING' })
    .andWhere((q) => q.whereNull('charge_lease_until').orWhere('charge_lease_until', '<', now.toISOString()))
    .orderBy('id')
    .limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Record<string, unknown>) => String(r.id));
}

export interface UnsettledCharge {
  table: 'invoices' | 'payments';
  id: string;
}

/**
 * Charges whose outcome is unknown: a provider call was made and nothing recorded, and no call is in flight (the
 * lease ran out or was given back). Only the provider's ledger can say what became of them.
 */
export async function unsettledCharges(db: Knex, now: Date, limit: number): Promise<UnsettledCharge[]> {
  const free = (q: Knex.QueryBuilder) => q.whereNull('charge_lease_until').orWhere('charge_lease_until', '<', now.toISOString());
  const invoices = await db('invoices').select('id').where('payment_status', 'PENDING').andWhere('charge_calls', '>', 0).andWhere(free).orderBy('id').limit(limit);
  const payments = await db('payments').select('id').where('status', 'PENDING').andWhere('charge_calls', '>', 0).andWhere(free).orderBy('id').limit(limit);
  return [
    ...invoices.map((r: Record<string, unknown>) => ({ table: 'invoices' as const, id: String(r.id) })),
    ...payments.map((r: Record<string, unknown>) => ({ table: 'payments' as const, id: String(r.id) })),
  ];
}

/** The ledger said nothing was charged: the outcome is known now, and the charge is owed as before. */
export async function markChargeNotMade(db: Knex, table: 'invoices' | 'payments', id: string, leaseToken: string): Promise<void> {
  await db(table).where({ id, charge_lease_token: leaseToken }).update({ charge_calls: 0, charge_lease_token: null, charge_lease_until: null });
}
