// orders/refund: give an order's money back once fulfilment failed for good: one refund per order, never without a charge.
import { UnrecoverableError } from 'bullmq';
import type { JobData } from '../../queues/jobs.js';
import { findPayment } from '../../shared/billing/payments.js';
import { RefundRefusedError, type PaymentProvider } from '../../shared/billing/provider/provider.js';
import type { Order } from '../../shared/orders/order.js';
import { completeRefund } from '../../shared/orders/saga.js';
import { countCall, findOrder, noteStuck } from '../../shared/orders/store.js';
import type { JobContext } from '../types.js';
import { followUp, followUpUnsent } from './follow-up.js';

type Payload = JobData<'orders', 'refund'>;

/** The provider's idempotency key of an order's refund: derived from the order and the charge, the same on every retry. */
export const refundKey = (orderId: string, chargeId: string): string => `refund-${orderId}-${chargeId}`;

export async function refundOrder({ orderId }: Payload, ctx: JobContext): Promise<{ status: string; refundId?: string }> {
  const order = await findOrder(ctx.db, orderId);
  if (!order) throw new UnrecoverableError(`order ${orderId} does not exist`);
  if (order.status === 'refunded') {
    await followUpUnsent(ctx, orderId);
    return { status: order.status, refundId: order.refundId ?? undefined };
  }
  if (order.status !== 'awaitingFulfillment' || !order.refundReason) {
    throw new UnrecoverableError(`order ${orderId} is ${order.status} and owes no refund`);
  }
  const payment = order.paymentId ? await findPayment(ctx.db, order.paymentId) : undefined;
  if (payment?.status !== 'PAID' || !payment.providerChargeId) {
    throw new UnrecoverableError(`order ${orderId} has no PAID charge to refund: never a refund without a charge`);
  }
  const chargeId = payment.providerChargeId;

  // An earlier call's answer was lost: the provider may have refunded, and may have forgotten the key. Its ledger says.
  if (order.refundCalls > 0) {
    const made = await refundInLedger(ctx.services.payments, order, chargeId);
    if (made) return settle(order, made, 'ledger', ctx);
  }
  await countCall(ctx.db, orderId, 'refund_calls');
  let refundId: string;
  try {
    const result = await ctx.services.payments.refund({ chargeId, amountCents: order.amountCents, reference: orderId, idempotencyKey: refundKey(orderId, chargeId) });
    refundId = result.refundId;
  } catch (err) {
    if (!(err instanceof RefundRefusedError)) throw err;
    // More than is left: refunded already, under a key the provider has forgotten. Anything else no retry can mend.
    const made = err.code === 'refund_exceeds_charge' ? await refundInLedger(ctx.services.payments, order, chargeId) : undefined;
    if (!made) throw new UnrecoverableError(err.message);
    refundId = made;
  }
  return settle(order, refundId, 'refund', ctx);
}

async function settle(order: Order, refundId: string, source: 'refund' | 'ledger', ctx: JobContext): Promise<{ status: string; refundId: string }> {
  const written = await completeRefund(ctx.db, order, refundId, source);
  ctx.log.info({ orderId: order.id, refundId, source, recorded: Boolean(written) }, 'order refunded');
  await followUp(ctx.queues, written);
  return { status: 'refunded', refundId };
}

/** The refund the provider's ledger shows for the order's charge, if any. */
async function refundInLedger(payments: PaymentProvider, order: Order, chargeId: string): Promise<string | undefined> {
  const charges = await payments.chargesFor(order.id);
  return charges.find((c) => c.id === chargeId)?.refunds[0]?.id;
}

/** Attempts ran out without an answer: the refund is still owed, and the order says why it waits (the DLQ retry makes it). */
export async function giveUpRefund({ orderId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  await noteStuck(ctx.db, orderId, `refund not made after ${ctx.job.attempt} attempts (${error.message}); retrying the refund job from the DLQ makes it once`);
}
