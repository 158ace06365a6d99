// charge/charge: charge one invoice through the payment provider, exactly once, with dunning after a declined balance.
import { UnrecoverableError } from 'bullmq';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { notifyInvoicePayment, userIdOfActor } from '../../shared/callbacks/messages.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { chargeKey } from '../../shared/platform/ids.js';
import { findInvoice, type Invoice } from '../../shared/invoices/store.js';
import {
  claimInvoiceCharge,
  findInvoiceToCharge,
  recordUnsettledCharge,
  releaseCharge,
  settleInvoiceCharge,
  type InvoiceChargeOutcome,
} from '../../shared/billing/charging.js';
import { afterDecline } from '../../shared/billing/dunning.js';
import { latestInvoicePayment } from '../../shared/billing/payments.js';
import { CurrencyMismatchError, CustomerNotFoundError, type ChargeResult } from '../../shared/billing/provider/provider.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'charge', 'charge'>;

export interface ChargeInvoiceResult {
  paymentStatus: string;
  nextChargeAt?: string | null;
}

/** A charge in flight holds its invoice for twice the provider timeout: the call has ended, one way or the other, by then. */
export const chargeLeaseMs = (ctx: JobContext): number => 2 * ctx.config.paymentProviderTimeoutMs;

export async function chargeInvoice({ invoiceId }: Payload, ctx: JobContext): Promise<ChargeInvoiceResult> {
  const invoice = await findInvoiceToCharge(ctx.db, invoiceId);
  if (!invoice) throw new UnrecoverableError(`invoice ${invoiceId} does not exist`);
  if (invoice.paymentStatus === null) throw new UnrecoverableError(`invoice ${invoiceId} is not ours to charge (${invoice.status})`);

  // Settled already (a retry after a crash, or a second run): only make sure the client heard of it.
  if (invoice.paymentStatus !== 'PENDING') return settledAlready(invoice, ctx);
  if (invoice.nextChargeAt && Date.parse(invoice.nextChargeAt) > Date.now()) {
    await scheduleDunning(invoice, ctx);
    return { paymentStatus: 'PENDING', nextChargeAt: invoice.nextChargeAt };
  }

  const step = invoice.dunningStep;
  const key = chargeKey('invoice', invoiceId, step);
  const lease = await claimInvoiceCharge(ctx.db, invoiceId, step, chargeLeaseMs(ctx));
  if (!lease) return heldElsewhere(invoiceId, ctx);

  let result: ChargeResult;
  try {
    result = await ctx.services.payments.charge({
      customerId: invoice.customerId,
      amountCents: invoice.totalCents,
      currency: invoice.currency,
      reference: invoiceId,
      idempotencyKey: key,
    });
  } catch (err) {
    if (err instanceof CustomerNotFoundError || err instanceof CurrencyMismatchError) {
      await settle(invoice, step, key, { status: 'FAILED', reason: err.message }, ctx);
      throw new UnrecoverableError(err.message);
    }
    // No answer: the charge may have happened. The retry asks again with the same key and gets the first answer.
    await releaseCharge(ctx.db, 'invoices', invoiceId, lease).catch(() => undefined);
    throw err;
  }

  if (result.charged) {
    await settle(invoice, step, key, { status: 'PAID', chargeId: result.chargeId }, ctx);
    return { paymentStatus: 'PAID' };
  }
  const next = afterDecline(step, ctx.config.dunningDays, new Date());
  if (next.final) {
    const reason = `insufficient balance: declined ${next.attempts} time${next.attempts === 1 ? '' : 's'}`;
    await settle(invoice, step, key, { status: 'FAILED', chargeId: result.chargeId, reason }, ctx);
    return { paymentStatus: 'FAILED' };
  }
  const nextChargeAt = next.nextAt.toISOString();
  await settle(invoice, step, key, { status: 'DECLINED', chargeId: result.chargeId, reason: 'insufficient balance', nextStep: next.nextStep, nextChargeAt }, ctx);
  await scheduleDunning((await findInvoice(ctx.db, invoiceId))!, ctx);
  return { paymentStatus: 'PENDING', nextChargeAt };
}

async function settle(invoice: Invoice, step: number, key: string, outcome: InvoiceChargeOutcome, ctx: JobContext): Promise<void> {
  const recorded = await settleInvoiceCharge(ctx.db, invoice, step, key, outcome);
  ctx.log.info({ invoiceId: invoice.id, step, outcome: outcome.status, recorded }, `charge ${outcome.status.toLowerCase()}`);
  // notifyInvoicePayment tells nobody without a callback URL and a user to sign for (neither changes on settling):
  // then there is nothing to read back either.
  if (!invoice.callbackUrl || !userIdOfActor(invoice.createdBy)) return;
  const current = (await findInvoice(ctx.db, invoice.id))!;
  const payment = await latestInvoicePayment(ctx.db, invoice.id);
  if (payment) await notifyInvoicePayment(ctx, current, payment);
}

async function settledAlready(invoice: Invoice, ctx: JobContext): Promise<ChargeInvoiceResult> {
  const payment = await latestInvoicePayment(ctx.db, invoice.id);
  if (payment) await notifyInvoicePayment(ctx, invoice, payment);
  return { paymentStatus: invoice.paymentStatus! };
}

/** The next dunning attempt as its own delayed job; its id makes scheduling it twice harmless. */
async function scheduleDunning(invoice: Invoice, ctx: JobContext): Promise<void> {
  const delay = Math.max(0, Date.parse(invoice.nextChargeAt!) - Date.now());
  await ctx.queues.add('charge', 'charge', { invoiceId: invoice.id }, { jobId: jobIds.dunning(invoice.id, invoice.dunningStep), delay });
}

/** Someone else holds the charge, or it moved on meanwhile: look once more, then come back after the lease. */
async function heldElsewhere(invoiceId: string, ctx: JobContext): Promise<ChargeInvoiceResult> {
  const now = (await findInvoice(ctx.db, invoiceId))!;
  if (now.paymentStatus !== 'PENDING') return settledAlready(now, ctx);
  if (now.nextChargeAt && Date.parse(now.nextChargeAt) > Date.now()) {
    await scheduleDunning(now, ctx);
    return { paymentStatus: 'PENDING', nextChargeAt: now.nextChargeAt };
  }
  const row = await ctx.db('invoices').first('charge_lease_until').where({ id: invoiceId });
  const waitMs = row?.charge_lease_until ? Math.max(0, new Date(row.charge_lease_until as string | Date).getTime() - Date.now()) : 0;
  throw new RetryableError('another attempt holds this invoice’s charge', waitMs + 100);
}

/** Attempts ran out without an answer from the provider: the outcome is unknown, so the invoice stays PENDING, saying why. */
export async function giveUpCharging({ invoiceId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  if (error instanceof UnrecoverableError) return;
  await recordUnsettledCharge(
    ctx.db,
    'invoices',
    invoiceId,
    `charge unresolved after ${ctx.job.attempt} attempts (${error.message}); retrying the job from the DLQ settles it without charging twice`,
  );
}
