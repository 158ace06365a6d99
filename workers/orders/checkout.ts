// orders/checkout: take a created order to paid (awaiting fulfilment) or failed: the balance check, then the one charge, through the one charge path.
import { UnrecoverableError } from 'bullmq';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { attemptCharge } from '../../shared/billing/charge-path.js';
import { claimCharge, heldElsewhere, recordUnsettledCharge, releaseCharge } from '../../shared/billing/leases.js';
import { findPayment } from '../../shared/billing/payments.js';
import { CustomerNotFoundError } from '../../shared/billing/provider/provider.js';
import type { Order } from '../../shared/orders/order.js';
import { awaitPayment, failOrder, INSUFFICIENT_BALANCE, refuseOrderCharge, settleOrderCharge, startCheckout } from '../../shared/orders/saga.js';
import { findOrder, noteStuck } from '../../shared/orders/store.js';
import { formatCents } from '../../shared/platform/money.js';
import type { JobContext } from '../types.js';
import { followUp, followUpUnsent } from './follow-up.js';

type Payload = JobData<'orders', 'checkout'>;

/**
 * Each pass reads the order and does the move its status calls for, compare-and-set from that status: a retry, a
 * stalled job's twin or a cancel that won the race finds the order where the winner left it and goes on from there.
 */
export async function checkoutOrder({ orderId }: Payload, ctx: JobContext): Promise<{ status: string }> {
  // Three moves take an order from created to paid; a pass that moves nothing ends the job (see charge()).
  for (let pass = 0; pass < MAX_PASSES; pass += 1) {
    const order = await findOrder(ctx.db, orderId);
    if (!order) throw new UnrecoverableError(`order ${orderId} does not exist`);
    switch (order.status) {
      case 'created':
        await followUp(ctx.queues, await startCheckout(ctx.db, order.id));
        continue;
      case 'pendingPayment':
        await checkBalance(order, ctx);
        continue;
      case 'awaitingPayment':
        await charge(order, ctx);
        continue;
      case 'awaitingFulfillment':
        // Paid already (a retry after a crash past the charge): make sure the next step and what was written are queued.
        await ctx.queues.add('orders', order.refundReason ? 'refund' : 'fulfil', { orderId }, { jobId: jobIds.orderStep(orderId, order.refundReason ? 'refund' : 'fulfil') });
        await followUpUnsent(ctx, orderId);
        return { status: order.status };
      default:
        await followUpUnsent(ctx, orderId);
        return { status: order.status };
    }
  }
  throw new Error(`order ${orderId} did not settle in ${MAX_PASSES} passes; retrying`);
}

const MAX_PASSES = 8;

/** Compare only, nothing is taken: a balance short of the amount fails the order and tells the customer. */
async function checkBalance(order: Order, ctx: JobContext): Promise<void> {
  let account;
  try {
    account = await ctx.services.payments.account(order.customerId);
  } catch (err) {
    if (!(err instanceof CustomerNotFoundError)) throw err;
    await followUp(ctx.queues, await failOrder(ctx.db, order, 'pendingPayment', err.message, { notifyCustomer: false }));
    return;
  }
  if (account.currency !== order.currency) {
    const reason = `the account of customer ${order.customerId} is in ${account.currency}, not ${order.currency}`;
    await followUp(ctx.queues, await failOrder(ctx.db, order, 'pendingPayment', reason, { notifyCustomer: false }));
    return;
  }
  if (account.balanceCents < order.amountCents) {
    const details = { balance: formatCents(account.balanceCents), amount: formatCents(order.amountCents) };
    await followUp(ctx.queues, await failOrder(ctx.db, order, 'pendingPayment', INSUFFICIENT_BALANCE, { notifyCustomer: true, details }));
    return;
  }
  await followUp(ctx.queues, await awaitPayment(ctx.db, order, account));
}

/**
 * The charge, through the path every charge takes: the payment's lease, the provider's ledger first when an earlier
 * call's answer was lost, the order's key, the breaker. A refusal (no account, another currency) fails the order.
 */
async function charge(order: Order, ctx: JobContext): Promise<void> {
  const paymentId = order.paymentId!;
  const payment = await findPayment(ctx.db, paymentId);
  if (!payment) throw new UnrecoverableError(`order ${order.id} awaits payment ${paymentId}, which does not exist`);
  if (payment.status !== 'PENDING') {
    // Settled since the order was read (a stalled job's twin): settled with the order in one transaction, so the order
    // has moved on, and the next pass goes on from there. An order still awaiting a settled payment is a broken row.
    if ((await findOrder(ctx.db, order.id))?.status !== 'awaitingPayment') return;
    throw new UnrecoverableError(`order ${order.id} awaits payment ${paymentId}, which is ${payment.status} already`);
  }
  let refused = false;
  let attempt;
  try {
    attempt = await attemptCharge(ctx, {
      request: { customerId: order.customerId, amountCents: order.amountCents, currency: order.currency, reference: order.id, idempotencyKey: payment.idempotencyKey },
      claim: (leaseMs) => claimCharge(ctx.db, 'payments', paymentId, leaseMs),
      release: (lease) => releaseCharge(ctx.db, 'payments', paymentId, lease),
      refuse: async (reason) => {
        refused = true;
        await followUp(ctx.queues, await refuseOrderCharge(ctx.db, order, reason));
      },
      holdBack: (reason) => recordUnsettledCharge(ctx.db, 'payments', paymentId, reason),
      // An order is charged once, under one key: no earlier outcome of it is ever recorded.
      recordedChargeIds: async () => [],
    });
  } catch (err) {
    // The provider's refusal is an outcome, recorded: the order has failed, and the job is done rather than dead.
    if (refused && err instanceof UnrecoverableError) return;
    throw err;
  }
  if (attempt.held) {
    const now = await findPayment(ctx.db, paymentId);
    if (now && now.status !== 'PENDING') return;
    throw await heldElsewhere(ctx.db, 'payments', paymentId);
  }
  const { result, fromLedger } = attempt;
  if (fromLedger) ctx.log.info({ orderId: order.id, chargeId: result.chargeId, charged: result.charged }, 'order charge outcome read from the provider ledger');
  const written = await settleOrderCharge(ctx.db, order, result, fromLedger ? 'ledger' : 'charge');
  ctx.log.info({ orderId: order.id, charged: result.charged, recorded: Boolean(written) }, result.charged ? 'order charged' : 'order charge declined');
  await followUp(ctx.queues, written);
}

/**
 * Attempts ran out (the provider down for hours): the order stays where it is, saying why, for the DLQ retry; if a
 * charge call's answer was lost, its payment stays PENDING with the reason too, for the reconciler.
 */
export async function giveUpCheckout({ orderId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  if (error instanceof UnrecoverableError) return;
  const reason = `checkout unfinished after ${ctx.job.attempt} attempts (${error.message}); retrying the checkout job from the DLQ goes on without charging twice`;
  await noteStuck(ctx.db, orderId, reason);
  const order = await findOrder(ctx.db, orderId);
  if (order?.status === 'awaitingPayment' && order.paymentId) await recordUnsettledCharge(ctx.db, 'payments', order.paymentId, reason);
}
