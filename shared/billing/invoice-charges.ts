// The charge state of invoices, batched per worker process: the read a charge job starts with, its lease, and its settlement.
import type { Knex } from 'knex';
import { actors, userIdOf } from '../access/actors.js';
import type { Invoice } from '../invoices/invoice.js';
import { findInvoices } from '../invoices/store.js';
import { Batcher } from '../platform/batcher.js';
import { nowIso, returnedId } from '../platform/db.js';
import { chargeable, claimCharge, leaseColumns, leaseOf, newLease, type Lease } from './leases.js';
import { insertPayment, paymentIdForCharge, paymentRow, type NewPayment } from './payments.js';

export type InvoiceChargeOutcome =
  | { status: 'PAID'; chargeId: string }
  | { status: 'DECLINED'; chargeId: string; reason: string; nextStep: number; nextChargeAt: string }
  | { status: 'FAILED'; chargeId?: string; reason: string };

/** What a charge of an invoice came to, and which attempt (dunning step, key) it was. */
export interface Settlement {
  invoice: Invoice;
  step: number;
  key: string;
  outcome: InvoiceChargeOutcome;
}

/**
 * The invoice side of the charge path. Built once per worker process over its database handle and carried in the
 * context: with many charge jobs in flight, the reads, the leases and the settlements that arrive together share one
 * statement each (one transaction for settlements), each still conditional per invoice.
 */
export interface InvoiceCharges {
  /** The invoice as a charge job reads it first. */
  find(id: string): Promise<Invoice | undefined>;
  /** {@link claimCharge} of an invoice at dunning step `step`; each invoice gets the lease once, however many jobs ask. */
  claim(id: string, step: number, leaseMs: number): Promise<Lease | undefined>;
  /**
   * Records what the charge with `key` came to: the invoice's payment status and the payment, in one transaction.
   * Conditional on the invoice still being PENDING at `step`, so whoever records an attempt's outcome second
   * (a worker that lost its lease, a stalled job's twin) changes nothing. Returns whether this call recorded it.
   */
  settle(settlement: Settlement): Promise<boolean>;
}

interface Claim {
  id: string;
  step: number;
  leaseMs: number;
}

export function createInvoiceCharges(db: Knex): InvoiceCharges {
  const find = new Batcher(
    (ids: string[]) => findInvoices(db, ids),
    async (id: string) => (await findInvoices(db, [id]))[0],
  );
  const claim = new Batcher(
    (claims: Claim[]) => claimInvoiceCharges(db, claims),
    (c: Claim) => claimCharge(db, 'invoices', c.id, c.leaseMs, { dunning_step: c.step }),
  );
  const settle = new Batcher(
    (settlements: Settlement[]) => settleInvoiceCharges(db, settlements),
    async (s: Settlement) => (await settleInvoiceCharges(db, [s]))[0]!,
  );
  return {
    find: (id) => find.run(id),
    claim: (id, step, leaseMs) => claim.run({ id, step, leaseMs }),
    settle: (settlement) => settle.run(settlement),
  };
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
    const lease = newLease(leaseMs, now);
    const rows: unknown[] = await chargeable(db('invoices').whereIn('id', [...first.keys()]).andWhere({ dunning_step: step }), 'invoices', now)
      .update(leaseColumns(db, lease))
      .returning(['id', 'charge_calls']);
    for (const row of rows) leases.set(first.get(returnedId(row))!, leaseOf(lease, row));
  }
  return claims.map((c) => leases.get(c));
}

/**
 * Several settlements in one transaction: each invoice's update is still conditional on PENDING at its step, and each
 * payment is written only with its invoice's update. PAID outcomes at one step share one update statement; the
 * payments share one insert.
 */
async function settleInvoiceCharges(db: Knex, settlements: Settlement[]): Promise<boolean[]> {
  const at = nowIso();
  // An outcome recorded: no call of this step is unknown any more.
  const release = { charge_lease_token: null, charge_lease_until: null, charge_calls: 0, updated_at: at, updated_by: actors.worker('charge') };
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
    userId: userIdOf(invoice.createdBy) ?? null,
    amountCents: invoice.totalCents,
    currency: invoice.currency,
    status: outcome.status,
    reason: outcome.status === 'PAID' ? null : outcome.reason,
    idempotencyKey: key,
    providerChargeId: outcome.chargeId ?? null,
    dunningStep: step,
  };
}
