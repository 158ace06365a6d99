// orders/fulfil: ask the fulfilment service to fulfil a paid order, once by its key; when it fails for good, the refund is owed and queued here.
import { UnrecoverableError } from 'bullmq';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { findPayment } from '../../shared/billing/payments.js';
import { FulfilmentRefusedError } from '../../shared/orders/fulfilment.js';
import type { Order } from '../../shared/orders/order.js';
import { finishOrder } from '../../shared/orders/saga.js';
import { countCall, findOrder, recordRefundOwed } from '../../shared/orders/store.js';
import type { JobContext } from '../types.js';
import { followUp, followUpUnsent } from './follow-up.js';

type Payload = JobData<'orders', 'fulfil'>;

/** The fulfilment service's idempotency key of an order: the same on every retry, so it fulfils once. */
export const fulfilmentKey = (orderId: string): string => `order-${orderId}-fulfilment`;

export async function fulfilOrder({ orderId }: Payload, ctx: JobContext): Promise<{ status: string; refundOwed?: string }> {
  const order = await findOrder(ctx.db, orderId);
  if (!order) throw new UnrecoverableError(`order ${orderId} does not exist`);
  if (order.status === 'finished' || order.status === 'refunded') {
    await followUpUnsent(ctx, orderId);
    return { status: order.status };
  }
  if (order.status !== 'awaitingFulfillment') throw new UnrecoverableError(`order ${orderId} is ${order.status}: only a paid order is fulfilled`);
  if (order.refundReason) return queueRefund(order, order.refundReason, ctx);
  // Never fulfil what was not paid: the payment is read, not inferred from the status alone.
  const payment = order.paymentId ? await findPayment(ctx.db, order.paymentId) : undefined;
  if (payment?.status !== 'PAID') throw new UnrecoverableError(`order ${orderId} has no PAID payment: not fulfilled`);

  await countCall(ctx.db, orderId, 'fulfil_calls');
  let fulfilment;
  try {
    fulfilment = await ctx.services.fulfilment.fulfil({
      orderId,
      customerId: order.customerId,
      amountCents: order.amountCents,
      currency: order.currency,
      idempotencyKey: fulfilmentKey(orderId),
    });
  } catch (err) {
    if (err instanceof FulfilmentRefusedError) return owe(order, err.message, ctx);
    // The outage outlasted every attempt: the handler decides on its last attempt, rather than a give-up hook a
    // crash could skip, and the refund is owed in the database before the job ends. Only the service's failures
    // count: once it has fulfilled, a failure of ours (the database) is retried, never refunded.
    if (ctx.job.attempt >= ctx.job.maxAttempts) {
      return owe(order, `fulfilment failed after ${ctx.job.attempt} attempts: ${(err as Error).message}`, ctx);
    }
    throw err;
  }
  const written = await finishOrder(ctx.db, order, fulfilment.id);
  await followUp(ctx.queues, written);
  return { status: written ? 'finished' : ((await findOrder(ctx.db, orderId))?.status ?? 'unknown') };
}

/** Fulfilment failed for good: the refund is owed (one conditional write) and queued. */
async function owe(order: Order, reason: string, ctx: JobContext): Promise<{ status: string; refundOwed: string }> {
  const recorded = await recordRefundOwed(ctx.db, order.id, reason);
  ctx.log.warn({ orderId: order.id, reason, recorded }, 'fulfilment failed for good: refund owed');
  const now = (await findOrder(ctx.db, order.id))!;
  if (!now.refundReason) return { status: now.status, refundOwed: reason };
  return queueRefund(now, now.refundReason, ctx);
}

async function queueRefund(order: Order, reason: string, ctx: JobContext): Promise<{ status: string; refundOwed: string }> {
  await ctx.queues.add('orders', 'refund', { orderId: order.id }, { jobId: jobIds.orderStep(order.id, 'refund') });
  return { status: order.status, refundOwed: reason };
}
