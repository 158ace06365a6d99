// maintenance/reconcile: settle every charge whose outcome is unknown from the provider's ledger, never by charging.
import type { JobData } from '../../queues/jobs.js';
import { chargeKeys, chargeLeaseMs, settledByLedger } from '../../shared/billing/charge-path.js';
import { chargeOutcome } from '../../shared/billing/dunning.js';
import { claimCharge, releaseCharge } from '../../shared/billing/leases.js';
import { notifyLatestInvoicePayment } from '../../shared/billing/notify.js';
import { markChargeNotMade, unsettledCharges } from '../../shared/billing/owed.js';
import { findPayment, recordedInvoiceChargeIds, settlePayment } from '../../shared/billing/payments.js';
import { findInvoice } from '../../shared/invoices/store.js';
import { settleOrderCharge } from '../../shared/orders/saga.js';
import { findOrder } from '../../shared/orders/store.js';
import { followUp } from '../orders/follow-up.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'maintenance', 'reconcile'>;

/** Unknown charges looked at per run; the next run takes the rest. */
export const RECONCILE_BATCH = 500;

export type Reconciled = 'settled' | 'not-charged' | 'busy';

export interface ReconcileCounts {
  settled: number;
  /** The ledger has no charge: nothing was taken, and the charge is owed as before (its job or the next run makes it). */
  notCharged: number;
  /** A charge attempt holds it now: that attempt asks the ledger itself. */
  busy: number;
}

export async function reconcile(_payload: Payload, ctx: JobContext): Promise<ReconcileCounts> {
  const counts: ReconcileCounts = { settled: 0, notCharged: 0, busy: 0 };
  for (const unknown of await unsettledCharges(ctx.db, new Date(), RECONCILE_BATCH)) {
    const outcome = unknown.table === 'invoices' ? await reconcileInvoice(unknown.id, ctx) : await reconcilePayment(unknown.id, ctx);
    counts[outcome === 'settled' ? 'settled' : outcome === 'not-charged' ? 'notCharged' : 'busy'] += 1;
  }
  if (counts.settled + counts.notCharged > 0) ctx.log.info({ ...counts }, 'reconcile: unknown charges settled from the provider ledger');
  return counts;
}

/** Under the charge lease, so no charge attempt runs meanwhile: the ledger's word is final for this dunning step. */
export async function reconcileInvoice(invoiceId: string, ctx: JobContext): Promise<Reconciled> {
  const invoice = await findInvoice(ctx.db, invoiceId);
  if (!invoice || invoice.paymentStatus !== 'PENDING') return 'busy';
  const step = invoice.dunningStep;
  const lease = await claimCharge(ctx.db, 'invoices', invoiceId, chargeLeaseMs(ctx.config), { dunning_step: step });
  if (!lease) return 'busy';
  try {
    const key = chargeKeys.invoice(invoiceId, step);
    const request = { customerId: invoice.customerId, amountCents: invoice.totalCents, currency: invoice.currency, reference: invoiceId, idempotencyKey: key };
    const result = await settledByLedger(ctx.services.payments, { request, recordedChargeIds: () => recordedInvoiceChargeIds(ctx.db, invoiceId) });
    if (!result) {
      await markChargeNotMade(ctx.db, 'invoices', invoiceId, lease.token);
      return 'not-charged';
    }
    const outcome = chargeOutcome(result, step, ctx.config.dunningDays, new Date());
    await ctx.services.invoiceCharges.settle({ invoice, step, key, outcome });
    ctx.log.info({ invoiceId, step, outcome: outcome.status, chargeId: result.chargeId }, 'charge settled from the provider ledger');
    await notifyLatestInvoicePayment(ctx, invoiceId);
    return 'settled';
  } catch (err) {
    await releaseCharge(ctx.db, 'invoices', invoiceId, lease).catch(() => undefined);
    throw err;
  }
}

/** A one-off payment, or an order's charge: an order's is settled with its order, as its checkout would. */
async function reconcilePayment(paymentId: string, ctx: JobContext): Promise<Reconciled> {
  const payment = await findPayment(ctx.db, paymentId);
  if (!payment || payment.status !== 'PENDING') return 'busy';
  const order = payment.orderId ? await findOrder(ctx.db, payment.orderId) : undefined;
  if (payment.kind === 'order' && order?.status !== 'awaitingPayment') return 'busy';
  const lease = await claimCharge(ctx.db, 'payments', paymentId, chargeLeaseMs(ctx.config));
  if (!lease) return 'busy';
  try {
    // The reference the charge was made under: the order's id for an order, the payment's own otherwise.
    const reference = order ? order.id : paymentId;
    const request = { customerId: payment.customerId, amountCents: payment.amountCents, currency: payment.currency, reference, idempotencyKey: payment.idempotencyKey };
    const result = await settledByLedger(ctx.services.payments, { request, recordedChargeIds: async () => [] });
    if (!result) {
      await markChargeNotMade(ctx.db, 'payments', paymentId, lease.token);
      return 'not-charged';
    }
    if (order) {
      await followUp(ctx.queues, await settleOrderCharge(ctx.db, order, result, 'ledger'));
    } else {
      await settlePayment(ctx.db, paymentId, { status: result.charged ? 'PAID' : 'FAILED', chargeId: result.chargeId, reason: result.charged ? undefined : 'insufficient balance' });
    }
    return 'settled';
  } catch (err) {
    await releaseCharge(ctx.db, 'payments', paymentId, lease).catch(() => undefined);
    throw err;
  }
}
