// The charge state of invoices and one-off payments: a lease so one worker at a time may call the provider, and the settlement.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { nowIso, returnedId } from '../platform/db.js';
import { paymentIdForCharge } from '../platform/ids.js';
import { toInvoice, type Invoice } from '../invoices/store.js';
import { userIdOfActor } from '../callbacks/messages.js';
import { insertPayment, paymentRow, type NewPayment, type PaymentRecordStatus } from './payments.js';

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
  const updated = await chargeable(db(table).where({ id, ...where }), table, now).update({ charge_lease_token: lease.token, charge_lease_until: lease.until });
  return updated === 1 ? lease : undefined;
}

/** The conditions of a claim: still to be charged, no unexpired lease, and for an invoice, no dunning attempt still to wait for. */
function chargeable(query: Knex.QueryBuilder, table: ChargeTable, now: Date): Knex.QueryBuilder {
  const [column, pending] = PENDING[table];
  query.where(column, pending).andWhere((q) => q.whereNull('charge_lease_until').orWhere('charge_lease_until', '<', now.toISOString()));
  if (table === 'invoices') query.andWhere((q) => q.whereNull('next_charge_at').orWhere('next_charge_at', '<=', now.toISOString()));
  return query;
}

/** The invoice as a charge job reads it first; calls made at about the same time share one query (see {@link Batcher}). */
export function findInvoiceToCharge(db: Knex, id: string): Promise<Invoice | undefined> {
  return batchersOf(db).find.run(id);
}

/**
 * {@link claimCharge} of an invoice at dunning step `step`: the same conditional update, but claims made at about the
 * same time share one statement, and each claimed invoice gets the lease once, however many jobs asked for it.
 */
export function claimInvoiceCharge(db: Knex, id: string, step: number, leaseMs: number): Promise<Lease | undefined> {
  return batchersOf(db).claim.run({ id, step, leaseMs });
}

interface Claim {
  id: string;
  step: number;
  leaseMs: number;
}

async function findInvoicesToCharge(db: Knex, ids: string[]): Promise<(Invoice | undefined)[]> {
  const rows: Record<string, unknown>[] = await db('invoices').select('*').whereIn('id', [...new Set(ids)]);
  const byId = new Map(rows.map((row) => [String(row.id), toInvoice(row)]));
  return ids.map((id) => byId.get(id));
}

async function claimInvoiceCharges(db: Knex, claims: Claim[]): Promise<(Lease | undefined)[]> {
  const leases = new Map<Claim, Lease>();
  const groups = new Map<string, Claim[]>();
  for (const c of claims) groups.set(`${c.step}/${c.leaseMs}`, [...(groups.get(`${c.step}/${c.leaseMs}`) ?? []), c]);
  for (const group of groups.values()) {
    const { step, leaseMs } = group[0]!;
    // A second claim of one invoice in a group would meet the same conditions, so it can only lose to the first.
    const first = new Map<string, Claim>();
    for (const c of group) if (!first.has(c.id)) first.set(c.id, c);
    const now = new Date();
    const lease = { token: randomUUID(), until: new Date(now.getTime() + leaseMs).toISOString() };
    const rows: unknown[] = await chargeable(db('invoices').whereIn('id', [...first.keys()]).andWhere({ dunning_step: step }), 'invoices', now)
      .update({ charge_lease_token: lease.token, charge_lease_until: lease.until })
      .returning('id');
    for (const row of rows) leases.set(first.get(returnedId(row))!, lease);
  }
  return claims.map((c) => leases.get(c));
}

/** Calls of one kind per batch at most; well inside every database's limit on bound parameters. */
const MAX_BATCH = 200;

/**
 * Runs the calls made while its previous batch ran (or in the same turn of the event loop) as one batch: with many
 * charge jobs in flight in one process, the database sees a statement per batch rather than per job. One batch runs at
 * a time. A batch that fails is run again call by call, so one bad call fails alone, as it would have without batching.
 */
class Batcher<I, O> {
  private waiting: { item: I; resolve: (value: O) => void; reject: (err: unknown) => void }[] = [];
  private draining = false;

  constructor(
    private readonly many: (items: I[]) => Promise<O[]>,
    private readonly one: (item: I) => Promise<O>,
  ) {}

  run(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.draining) return;
      this.draining = true;
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      if (batch.length > 1) {
        const results = await this.many(batch.map((c) => c.item)).catch(() => undefined);
        if (results) {
          batch.forEach((c, i) => c.resolve(results[i]!));
          continue;
        }
      }
      await Promise.all(batch.map((c) => this.one(c.item).then(c.resolve, c.reject)));
    }
    this.draining = false;
  }
}

interface Batchers {
  find: Batcher<string, Invoice | undefined>;
  claim: Batcher<Claim, Lease | undefined>;
  settle: Batcher<Settlement, boolean>;
}

/** One set of batchers per database handle, made on first use and gone with the handle. */
const batchers = new WeakMap<Knex, Batchers>();

function batchersOf(db: Knex): Batchers {
  let found = batchers.get(db);
  if (!found) {
    found = {
      find: new Batcher(
        (ids) => findInvoicesToCharge(db, ids),
        async (id) => (await findInvoicesToCharge(db, [id]))[0],
      ),
      claim: new Batcher(
        (claims) => claimInvoiceCharges(db, claims),
        (c) => claimCharge(db, 'invoices', c.id, c.leaseMs, { dunning_step: c.step }),
      ),
      settle: new Batcher(
        (settlements) => settleInvoiceCharges(db, settlements),
        async (s) => (await settleInvoiceCharges(db, [s]))[0]!,
      ),
    };
    batchers.set(db, found);
  }
  return found;
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
export function settleInvoiceCharge(db: Knex, invoice: Invoice, step: number, key: string, outcome: InvoiceChargeOutcome): Promise<boolean> {
  // Settlements made at about the same time share a transaction and their statements (see Batcher).
  return batchersOf(db).settle.run({ invoice, step, key, outcome });
}

interface Settlement {
  invoice: Invoice;
  step: number;
  key: string;
  outcome: InvoiceChargeOutcome;
}

/**
 * {@link settleInvoiceCharge} for several charges in one transaction: each invoice's update is still conditional on
 * PENDING at its step, and each payment is written only with its invoice's update. PAID outcomes at one step share one
 * update statement; the payments share one insert.
 */
async function settleInvoiceCharges(db: Knex, settlements: Settlement[]): Promise<boolean[]> {
  const at = nowIso();
  const release = { charge_lease_token: null, charge_lease_until: null, updated_at: at, updated_by: 'worker:charge' };
  const setFor = (outcome: InvoiceChargeOutcome) =>
    outcome.status === 'PAID'
      ? { ...release, payment_status: 'PAID', payment_failure_reason: null, next_charge_at: null }
      : outcome.status === 'DECLINED'
        ? { ...release, dunning_step: outcome.nextStep, next_charge_at: outcome.nextChargeAt, payment_failure_reason: outcome.reason }
        : { ...release, payment_status: 'FAILED', payment_failure_reason: outcome.reason, next_charge_at: null };
  return db.transaction(async (trx) => {
    const recorded = new Set<Settlement>();
    const paidByStep = new Map<number, Settlement[]>();
    for (const s of settlements) {
      if (s.outcome.status === 'PAID' && settlements.length > 1) paidByStep.set(s.step, [...(paidByStep.get(s.step) ?? []), s]);
      else if ((await trx('invoices').where({ id: s.invoice.id, payment_status: 'PENDING', dunning_step: s.step }).update(setFor(s.outcome))) === 1) recorded.add(s);
    }
    for (const [step, paid] of paidByStep) {
      const byId = new Map(paid.map((s) => [s.invoice.id, s]));
      const rows: unknown[] = await trx('invoices')
        .whereIn('id', [...byId.keys()])
        .andWhere({ payment_status: 'PENDING', dunning_step: step })
        .update(setFor(paid[0]!.outcome))
        .returning('id');
      for (const row of rows) recorded.add(byId.get(returnedId(row))!);
    }
    if (recorded.size === 1) {
      await insertPayment(trx, paymentOf([...recorded][0]!));
    } else if (recorded.size > 1) {
      await trx('payments').insert([...recorded].map((s) => paymentRow(paymentOf(s), at))).onConflict().ignore();
    }
    return settlements.map((s) => recorded.has(s));
  });
}

function paymentOf({ invoice, step, key, outcome }: Settlement): NewPayment {
  return {
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
  };
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
