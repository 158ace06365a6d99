// The payments ledger: one row per charge outcome (and per one-off payment), scoped reads and the public JSON shape.
import type { Knex } from 'knex';
import { scopeToCustomers, type Principal } from '../access/principal.js';
import { nowIso, toIso, toNumber } from '../platform/db.js';
import { newId, stableId } from '../platform/ids.js';
import { formatCents } from '../platform/money.js';
import { keysetPage, toPage, type Page, type PageArgs } from '../platform/pagination.js';

/** DECLINED: the balance did not allow this attempt and another is scheduled; FAILED: it is over; REFUNDED: paid, then given back. */
export const PAYMENT_RECORD_STATUSES = ['PENDING', 'PAID', 'DECLINED', 'FAILED', 'REFUNDED'] as const;
export type PaymentRecordStatus = (typeof PAYMENT_RECORD_STATUSES)[number];

/** What a payment charges: an invoice (billing run), an order (the order saga), or itself (a one-off payment). */
export const PAYMENT_KINDS = ['invoice', 'one-off', 'order'] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

export interface Payment {
  id: string;
  paymentRefId: string;
  kind: PaymentKind;
  invoiceId: string | null;
  orderId: string | null;
  customerId: string;
  userId: string | null;
  amountCents: number;
  currency: string;
  status: PaymentRecordStatus;
  reason: string | null;
  description: string | null;
  idempotencyKey: string;
  providerChargeId: string | null;
  dunningStep: number | null;
  createdAt: string;
  updatedAt: string;
}

type Row = Record<string, unknown>;

export function toPayment(r: Row): Payment {
  return {
    id: String(r.id),
    paymentRefId: String(r.payment_ref_id),
    kind: r.kind as Payment['kind'],
    invoiceId: (r.invoice_id as string | null) ?? null,
    orderId: (r.order_id as string | null) ?? null,
    customerId: String(r.customer_id),
    userId: (r.user_id as string | null) ?? null,
    amountCents: toNumber(r.amount_cents),
    currency: String(r.currency),
    status: r.status as PaymentRecordStatus,
    reason: (r.reason as string | null) ?? null,
    description: (r.description as string | null) ?? null,
    idempotencyKey: String(r.idempotency_key),
    providerChargeId: (r.provider_charge_id as string | null) ?? null,
    dunningStep: r.dunning_step == null ? null : toNumber(r.dunning_step),
    createdAt: toIso(r.created_at),
    updatedAt: toIso(r.updated_at),
  };
}

export interface NewPayment {
  id: string;
  kind: Payment['kind'];
  invoiceId?: string | null;
  orderId?: string | null;
  customerId: string;
  userId: string | null;
  amountCents: number;
  currency: string;
  status: PaymentRecordStatus;
  reason?: string | null;
  description?: string | null;
  idempotencyKey: string;
  providerChargeId?: string | null;
  dunningStep?: number | null;
}

/** The row a new payment becomes; `at` is its creation time. */
export function paymentRow(p: NewPayment, at: string) {
  return {
    id: p.id,
    payment_ref_id: newId(),
    kind: p.kind,
    invoice_id: p.invoiceId ?? null,
    order_id: p.orderId ?? null,
    customer_id: p.customerId,
    user_id: p.userId,
    amount_cents: p.amountCents,
    currency: p.currency,
    status: p.status,
    reason: p.reason ?? null,
    description: p.description ?? null,
    idempotency_key: p.idempotencyKey,
    provider_charge_id: p.providerChargeId ?? null,
    dunning_step: p.dunningStep ?? null,
    created_at: at,
    updated_at: at,
  };
}

/** The payment recording a charge attempt: one per idempotency key, whichever worker records it. */
export const paymentIdForCharge = (key: string): string => stableId('payment', key);

/** A one-off payment's id, from who asked and their Idempotency-Key, so a replayed request finds the same payment. */
export const oneOffPaymentId = (userId: string, idempotencyKey: string): string => stableId('one-off-payment', userId, idempotencyKey);

/** Inserts the payment unless one with its id or idempotency key exists; returns whether it did. */
export async function insertPayment(db: Knex, p: NewPayment): Promise<boolean> {
  const inserted = await db('payments').insert(paymentRow(p, nowIso())).onConflict().ignore().returning('id');
  return inserted.length === 1;
}

/** Records a payment's outcome (a one-off payment, an order's charge), if it is still PENDING. */
export async function settlePayment(
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
      charge_calls: 0,
      updated_at: nowIso(),
    });
  return updated === 1;
}

export async function findPayment(db: Knex, id: string): Promise<Payment | undefined> {
  const row = await db('payments').first('*').where({ id });
  return row ? toPayment(row) : undefined;
}

export async function findVisiblePayment(db: Knex, principal: Principal, id: string): Promise<Payment | undefined> {
  const row = await scopeToCustomers(db('payments').first('*').where('payments.id', id), db, principal, 'payments.customer_id');
  return row ? toPayment(row) : undefined;
}

/** The provider's ids of an invoice's charges whose outcome is recorded: the ledger entries already accounted for. */
export async function recordedInvoiceChargeIds(db: Knex, invoiceId: string): Promise<string[]> {
  const rows: { provider_charge_id: string }[] = await db('payments').select('provider_charge_id').where({ invoice_id: invoiceId }).whereNotNull('provider_charge_id');
  return rows.map((r) => r.provider_charge_id);
}

/** The newest payment of an invoice: what its last charge attempt came to. */
export async function latestInvoicePayment(db: Knex, invoiceId: string): Promise<Payment | undefined> {
  const row = await db('payments').first('*').where({ invoice_id: invoiceId }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'dunning_step', order: 'desc' }]);
  return row ? toPayment(row) : undefined;
}

export interface PaymentFilters {
  /** Created at or after this instant (ISO 8601). */
  from?: string;
  /** Created at or before this instant (ISO 8601). */
  to?: string;
  customerId?: string;
  userId?: string;
  paymentRefId?: string;
  invoiceId?: string;
  status?: PaymentRecordStatus;
}

export async function listPayments(
  db: Knex,
  principal: Principal,
  filters: PaymentFilters,
  page: PageArgs,
): Promise<Page<Payment>> {
  const query = scopeToCustomers(db('payments').select('payments.*'), db, principal, 'payments.customer_id');
  if (filters.from) query.where('payments.created_at', '>=', filters.from);
  if (filters.to) query.where('payments.created_at', '<=', filters.to);
  if (filters.customerId) query.where('payments.customer_id', filters.customerId);
  if (filters.userId) query.where('payments.user_id', filters.userId);
  if (filters.paymentRefId) query.where('payments.payment_ref_id', filters.paymentRefId);
  if (filters.invoiceId) query.where('payments.invoice_id', filters.invoiceId);
  if (filters.status) query.where('payments.status', filters.status);
  const rows: Row[] = await keysetPage(query, 'payments', page.limit, page.after);
  return toPage(rows.map(toPayment), page.limit);
}

/** The public JSON shape: amounts as decimal strings, no provider key. */
export function paymentView(p: Payment) {
  return {
    id: p.id,
    paymentRefId: p.paymentRefId,
    kind: p.kind,
    invoiceId: p.invoiceId,
    orderId: p.orderId,
    customerId: p.customerId,
    userId: p.userId,
    amount: formatCents(p.amountCents),
    currency: p.currency,
    status: p.status,
    reason: p.reason,
    description: p.description,
    providerChargeId: p.providerChargeId,
    dunningStep: p.dunningStep,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}
