// The charge lease of an invoice or a one-off payment: only its holder may call the provider; taken, given back, waited for.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { CHARGEABLE_STATUSES } from '../invoices/status.js';
import { nowIso, toNumber } from '../platform/db.js';
import { RetryableError } from '../platform/errors/retryable.js';

export type ChargeTable = 'invoices' | 'payments';

/** The column that says a charge is still to be made, and the value that says so. */
const PENDING: Record<ChargeTable, [string, string]> = { invoices: ['payment_status', 'PENDING'], payments: ['status', 'PENDING'] };

export interface Lease {
  token: string;
  until: string;
  /**
   * Provider calls made for this charge before this lease with no outcome recorded (an answer lost, a worker killed
   * mid-call). Above 0 the provider may have charged already, and may have forgotten the key: ask its ledger first.
   */
  earlierCalls: number;
}

export const newLease = (leaseMs: number, now = new Date()): Omit<Lease, 'earlierCalls'> => ({
  token: randomUUID(),
  until: new Date(now.getTime() + leaseMs).toISOString(),
});

/** The columns a claim sets: the lease, and one more call counted before it is made (a crash mid-call must leave a trace). */
export const leaseColumns = (db: Knex, lease: Omit<Lease, 'earlierCalls'>) => ({
  charge_lease_token: lease.token,
  charge_lease_until: lease.until,
  charge_calls: db.raw('charge_calls + 1'),
});

/** The lease a claim's returned row stands for. */
export const leaseOf = (lease: Omit<Lease, 'earlierCalls'>, row: unknown): Lease => ({
  ...lease,
  earlierCalls: toNumber((row as { charge_calls?: unknown }).charge_calls ?? 1) - 1,
});

/**
 * Takes the charge of one row for `leaseMs`, if it is still to be charged and nobody holds it: a conditional update,
 * so of two workers (a stalled job run twice, two jobs for one invoice) only one ever calls the provider.
 * `where` narrows the row further, e.g. to the dunning step the caller is about to charge.
 */
export async function claimCharge(db: Knex, table: ChargeTable, id: string, leaseMs: number, where: Record<string, unknown> = {}): Promise<Lease | undefined> {
  const now = new Date();
  const lease = newLease(leaseMs, now);
  const rows: unknown[] = await chargeable(db(table).where({ id, ...where }), table, now)
    .update(leaseColumns(db, lease))
    .returning(['id', 'charge_calls']);
  return rows.length === 1 ? leaseOf(lease, rows[0]) : undefined;
}

/**
 * The conditions of a claim: still to be charged, no unexpired lease, and for an invoice, accepted by the SdI with
 * something to charge and no dunning attempt still to wait for.
 */
export function chargeable(query: Knex.QueryBuilder, table: ChargeTable, now: Date): Knex.QueryBuilder {
  const [column, pending] = PENDING[table];
  query.where(column, pending).andWhere((q) => q.whereNull('charge_lease_until').orWhere('charge_lease_until', '<', now.toISOString()));
  if (table === 'invoices') {
    query
      .whereIn('status', CHARGEABLE_STATUSES)
      .andWhere('total_cents', '>', 0)
      .andWhere((q) => q.whereNull('next_charge_at').orWhere('next_charge_at', '<=', now.toISOString()));
  }
  return query;
}

/** Gives the lease back after a failed call, so the retry need not wait for it to run out. */
export async function releaseCharge(db: Knex, table: ChargeTable, id: string, lease: Lease): Promise<void> {
  await db(table).where({ id, charge_lease_token: lease.token }).update({ charge_lease_token: null, charge_lease_until: null });
}

/** Someone else holds the charge: the retry to throw, after the rest of their lease. */
export async function heldElsewhere(db: Knex, table: ChargeTable, id: string): Promise<RetryableError> {
  const row = await db(table).first('charge_lease_until').where({ id });
  const waitMs = row?.charge_lease_until ? Math.max(0, new Date(row.charge_lease_until as string | Date).getTime() - Date.now()) : 0;
  return new RetryableError(`another attempt holds this ${table === 'invoices' ? 'invoice' : 'payment'}’s charge`, waitMs + 100);
}

/** Attempts ran out without an answer: the charge may or may not have happened, so the row stays PENDING with the reason. */
export async function recordUnsettledCharge(db: Knex, table: ChargeTable, id: string, reason: string): Promise<void> {
  const [column, pending] = PENDING[table];
  const reasonColumn = table === 'invoices' ? 'payment_failure_reason' : 'reason';
  await db(table).where({ id, [column]: pending }).update({ [reasonColumn]: reason, charge_lease_token: null, charge_lease_until: null, updated_at: nowIso() });
}
