// An order as the saga and the API see it: the row's shape, its history, and its public JSON.
import { toIso, toNumber } from '../platform/db.js';
import { formatCents } from '../platform/money.js';
import type { OrderStatus } from './status.js';

export interface Order {
  id: string;
  customerId: string;
  /** Who placed it: they hear of it at its callback URL, signed with their secret. */
  userId: string;
  amountCents: number;
  currency: string;
  status: OrderStatus;
  /** Why it failed, when it did. */
  reason: string | null;
  callbackUrl: string | null;
  /** The payments row of its charge, from the moment checkout reaches awaitingPayment. */
  paymentId: string | null;
  /** Fulfilment requests made so far, answered or not. */
  fulfilCalls: number;
  fulfilmentId: string | null;
  /** Set when fulfilment failed for good: a refund is owed, and only then. */
  refundReason: string | null;
  refundRequestedAt: string | null;
  /** Refund requests made so far, answered or not: above 0, the provider's ledger is asked before another. */
  refundCalls: number;
  refundId: string | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

export interface OrderEvent {
  from: OrderStatus | null;
  to: OrderStatus;
  at: string;
  actor: string;
  details: unknown;
}

type Row = Record<string, unknown>;

const nullableIso = (v: unknown): string | null => (v == null ? null : toIso(v));

export function toOrder(r: Row): Order {
  return {
    id: String(r.id),
    customerId: String(r.customer_id),
    userId: String(r.user_id),
    amountCents: toNumber(r.amount_cents),
    currency: String(r.currency),
    status: r.status as OrderStatus,
    reason: (r.reason as string | null) ?? null,
    callbackUrl: (r.callback_url as string | null) ?? null,
    paymentId: (r.payment_id as string | null) ?? null,
    fulfilCalls: toNumber(r.fulfil_calls ?? 0),
    fulfilmentId: (r.fulfilment_id as string | null) ?? null,
    refundReason: (r.refund_reason as string | null) ?? null,
    refundRequestedAt: nullableIso(r.refund_requested_at),
    refundCalls: toNumber(r.refund_calls ?? 0),
    refundId: (r.refund_id as string | null) ?? null,
    createdAt: toIso(r.created_at),
    createdBy: String(r.created_by),
    updatedAt: toIso(r.updated_at),
    updatedBy: String(r.updated_by),
  };
}

/** The public JSON shape: the amount as a decimal string with two decimals in the currency's units; links to follow. */
export function orderView(o: Order) {
  return {
    id: o.id,
    customerId: o.customerId,
    userId: o.userId,
    amount: formatCents(o.amountCents),
    currency: o.currency,
    status: o.status,
    reason: o.reason,
    callbackUrl: o.callbackUrl,
    paymentId: o.paymentId,
    fulfilmentId: o.fulfilmentId,
    refundId: o.refundId,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    links: { self: `/v1/orders/${o.id}`, ...(o.paymentId ? { payment: `/v1/payments/${o.paymentId}` } : {}) },
  };
}

/** What `order.status` callbacks carry: enough to act on without reading the order back. */
export function orderStatusData(o: Order) {
  return { id: o.id, customerId: o.customerId, amount: formatCents(o.amountCents), currency: o.currency, status: o.status, reason: o.reason, updatedAt: o.updatedAt };
}
