// The saga's writes: each step's move together with what belongs to it (the charge's payment, the customer's mail, the refund), in one transaction.
import type { Knex } from 'knex';
import { actors } from '../access/actors.js';
import { findCustomer } from '../access/customers.js';
import { chargeKeys } from '../billing/charge-path.js';
import { insertPayment, paymentIdForCharge, settlePayment } from '../billing/payments.js';
import type { ChargeResult } from '../billing/provider/provider.js';
import { recordMail } from '../mail/mails.js';
import { nowIso } from '../platform/db.js';
import { formatCents } from '../platform/money.js';
import type { Order } from './order.js';
import { moveOrder, type Written } from './store.js';
import type { OrderStatus } from './status.js';

/** The saga's steps act as the orders queue's workers. */
export const SAGA_ACTOR = actors.worker('orders');

/** Why a declined charge or a short balance fails an order: the customer is told this, and what to do. */
export const INSUFFICIENT_BALANCE = 'insufficient balance';

/** Checkout takes the order: from here a cancel is refused. */
export function startCheckout(db: Knex, orderId: string): Promise<Written | undefined> {
  return moveOrder(db, orderId, { from: 'created', to: 'pendingPayment', actor: SAGA_ACTOR });
}

/**
 * Fails an order that has not been charged, with the reason; `notifyCustomer` records the customer's email in the
 * same transaction (the insufficient-balance notice), so a crash cannot keep it from being sent.
 */
export function failOrder(db: Knex, order: Order, from: OrderStatus, reason: string, options: { notifyCustomer: boolean; details?: unknown }): Promise<Written | undefined> {
  return moveOrder(db, order.id, {
    from,
    to: 'failed',
    actor: SAGA_ACTOR,
    details: { reason, ...(options.details as object | undefined) },
    set: { reason },
    alongside: async (trx, failed) => (options.notifyCustomer ? { mailIds: await recordFailureMail(trx, failed, reason) } : {}),
  });
}

async function recordFailureMail(trx: Knex.Transaction, order: Order, reason: string): Promise<string[]> {
  const customer = await findCustomer(trx, order.customerId);
  if (!customer) return [];
  const id = await recordMail(trx, {
    kind: 'order-failed',
    to: customer.email,
    subject: { type: 'order', id: order.id },
    data: { orderId: order.id, customerId: order.customerId, customerName: customer.name, amount: formatCents(order.amountCents), currency: order.currency, reason },
  });
  return [id];
}

/** The balance allows it: the order awaits its charge, and the payment that will record the charge is made with it. */
export function awaitPayment(db: Knex, order: Order, balance: { balanceCents: number }): Promise<Written | undefined> {
  const key = chargeKeys.order(order.id);
  const paymentId = paymentIdForCharge(key);
  return moveOrder(db, order.id, {
    from: 'pendingPayment',
    to: 'awaitingPayment',
    actor: SAGA_ACTOR,
    details: { balance: formatCents(balance.balanceCents), paymentId },
    set: { payment_id: paymentId },
    alongside: async (trx) => {
      await insertPayment(trx, {
        id: paymentId,
        kind: 'order',
        orderId: order.id,
        customerId: order.customerId,
        userId: order.userId,
        amountCents: order.amountCents,
        currency: order.currency,
        status: 'PENDING',
        description: `order ${order.id}`,
        idempotencyKey: key,
      });
    },
  });
}

/**
 * Records what the order's charge came to: its payment PAID and the order awaiting fulfilment (next: `fulfil`), or
 * the payment FAILED and the order failed with the customer's mail. Conditional on the payment still being PENDING,
 * so whoever records the charge second (a stalled job's twin, the reconciler) changes nothing.
 */
export async function settleOrderCharge(db: Knex, order: Order, result: ChargeResult, source: 'charge' | 'ledger'): Promise<Written | undefined> {
  return db.transaction(async (trx) => {
    const paid = result.charged;
    const settled = await settlePayment(trx, order.paymentId!, {
      status: paid ? 'PAID' : 'FAILED',
      chargeId: result.chargeId,
      reason: paid ? undefined : INSUFFICIENT_BALANCE,
    });
    if (!settled) return undefined;
    const details = { paymentId: order.paymentId, chargeId: result.chargeId, ...(source === 'ledger' ? { from: 'the provider ledger' } : {}) };
    if (paid) {
      const written = await moveOrder(trx, order.id, { from: 'awaitingPayment', to: 'awaitingFulfillment', actor: SAGA_ACTOR, details });
      return written && { ...written, next: 'fulfil' as const };
    }
    return failOrder(trx, order, 'awaitingPayment', INSUFFICIENT_BALANCE, { notifyCustomer: true, details });
  });
}

/** The provider refused the charge for good (no account for the customer, another currency): payment and order fail, with the reason. */
export async function refuseOrderCharge(db: Knex, order: Order, reason: string): Promise<Written | undefined> {
  return db.transaction(async (trx) => {
    if (!(await settlePayment(trx, order.paymentId!, { status: 'FAILED', reason }))) return undefined;
    return failOrder(trx, order, 'awaitingPayment', reason, { notifyCustomer: false, details: { paymentId: order.paymentId } });
  });
}

/** Fulfilled: the saga ends well. Never once a refund is owed: then the refund decides. */
export function finishOrder(db: Knex, order: Order, fulfilmentId: string | null): Promise<Written | undefined> {
  return moveOrder(db, order.id, {
    from: 'awaitingFulfillment',
    to: 'finished',
    actor: SAGA_ACTOR,
    details: { fulfilmentId },
    set: { fulfilment_id: fulfilmentId },
    where: (q) => void q.whereNull('refund_reason'),
  });
}

/** The money went back: the order is refunded and its payment shows it, in one transaction. Only when a refund was owed. */
export async function completeRefund(db: Knex, order: Order, refundId: string, source: 'refund' | 'ledger'): Promise<Written | undefined> {
  return db.transaction(async (trx) => {
    const written = await moveOrder(trx, order.id, {
      from: 'awaitingFulfillment',
      to: 'refunded',
      actor: SAGA_ACTOR,
      details: { refundId, reason: order.refundReason, ...(source === 'ledger' ? { from: 'the provider ledger' } : {}) },
      set: { refund_id: refundId },
      where: (q) => void q.whereNotNull('refund_reason'),
    });
    if (written && order.paymentId) {
      await trx('payments').where({ id: order.paymentId, status: 'PAID' }).update({ status: 'REFUNDED', reason: `refunded: ${order.refundReason}`, updated_at: nowIso() });
    }
    return written;
  });
}
