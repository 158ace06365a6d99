// charge/charge: charge one invoice through the payment provider, exactly once, with dunning after a declined balance.
import { UnrecoverableError } from 'bullmq';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { attemptCharge, chargeKeys } from '../../shared/billing/charge-path.js';
import { chargeOutcome } from '../../shared/billing/dunning.js';
import type { InvoiceChargeOutcome } from '../../shared/billing/invoice-charges.js';
import { heldElsewhere, recordUnsettledCharge, releaseCharge } from '../../shared/billing/leases.js';
import { notifyInvoicePayment, notifyLatestInvoicePayment } from '../../shared/billing/notify.js';
import { latestInvoicePayment, recordedInvoiceChargeIds } from '../../shared/billing/payments.js';
import type { Invoice } from '../../shared/invoices/invoice.js';
import { invoiceCallbackTarget } from '../../shared/invoices/notify.js';
import { isChargeableStatus } from '../../shared/invoices/status.js';
import { findInvoice } from '../../shared/invoices/store.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'charge', 'charge'>;

export interface ChargeInvoiceResult {
  paymentStatus: string;
  nextChargeAt?: string | null;
  /** The SdI status a not yet accepted invoice is in: it is not charged until the SdI accepts it. */
  waitingFor?: string;
}

export async function chargeInvoice({ invoiceId }: Payload, ctx: JobContext): Promise<ChargeInvoiceResult> {
  const charges = ctx.services.invoiceCharges;
  const invoice = await charges.find(invoiceId);
  if (!invoice) throw new UnrecoverableError(`invoice ${invoiceId} does not exist`);
  if (invoice.paymentStatus === null) throw new UnrecoverableError(`invoice ${invoiceId} is not ours to charge (${invoice.status})`);

  // Settled already (a retry after a crash, or a second run): only make sure the client heard of it.
  if (invoice.paymentStatus !== 'PENDING') return settledAlready(invoice, ctx);
  // Only what the SdI accepted is owed; one still on its way is left for a later run (a job from before it was sent).
  if (!isChargeableStatus(invoice.status)) return { paymentStatus: 'PENDING', waitingFor: invoice.status };
  if (invoice.totalCents <= 0) throw new UnrecoverableError(`invoice ${invoiceId} has nothing to charge (total ${invoice.totalCents} cents)`);
  if (dunningAhead(invoice)) return scheduleDunning(invoice, ctx);

  const step = invoice.dunningStep;
  const key = chargeKeys.invoice(invoiceId, step);
  const attempt = await attemptCharge(ctx, {
    request: { customerId: invoice.customerId, amountCents: invoice.totalCents, currency: invoice.currency, reference: invoiceId, idempotencyKey: key },
    claim: (leaseMs) => charges.claim(invoiceId, step, leaseMs),
    release: (lease) => releaseCharge(ctx.db, 'invoices', invoiceId, lease),
    refuse: (reason) => settle(invoice, step, key, { status: 'FAILED', reason }, ctx),
    holdBack: (reason) => recordUnsettledCharge(ctx.db, 'invoices', invoiceId, reason),
    recordedChargeIds: () => recordedInvoiceChargeIds(ctx.db, invoiceId),
  });
  if (attempt.held) return lookAgain(invoiceId, ctx);

  const { result } = attempt;
  if (attempt.fromLedger) ctx.log.info({ invoiceId, step, chargeId: result.chargeId, charged: result.charged }, 'charge outcome read from the provider ledger');
  const outcome = chargeOutcome(result, step, ctx.config.dunningDays, new Date());
  await settle(invoice, step, key, outcome, ctx);
  if (outcome.status !== 'DECLINED') return { paymentStatus: outcome.status };
  // Scheduled from what the database holds now: if another attempt recorded this step first, its schedule stands.
  const current = (await findInvoice(ctx.db, invoiceId))!;
  if (current.paymentStatus !== 'PENDING' || !dunningAhead(current)) return { paymentStatus: current.paymentStatus ?? 'PENDING' };
  return scheduleDunning(current, ctx);
}

async function settle(invoice: Invoice, step: number, key: string, outcome: InvoiceChargeOutcome, ctx: JobContext): Promise<void> {
  const recorded = await ctx.services.invoiceCharges.settle({ invoice, step, key, outcome });
  ctx.log.info({ invoiceId: invoice.id, step, outcome: outcome.status, recorded }, `charge ${outcome.status.toLowerCase()}`);
  // Nobody to tell (no callback URL, or no user to sign for; neither changes on settling): nothing to read back either.
  if (invoiceCallbackTarget(invoice)) await notifyLatestInvoicePayment(ctx, invoice.id);
}

async function settledAlready(invoice: Invoice, ctx: JobContext): Promise<ChargeInvoiceResult> {
  const payment = await latestInvoicePayment(ctx.db, invoice.id);
  if (payment) await notifyInvoicePayment(ctx, invoice, payment);
  return { paymentStatus: invoice.paymentStatus! };
}

const dunningAhead = (invoice: Invoice): boolean => Boolean(invoice.nextChargeAt && Date.parse(invoice.nextChargeAt) > Date.now());

/** The next dunning attempt as its own delayed job; its id makes scheduling it twice harmless. */
async function scheduleDunning(invoice: Invoice, ctx: JobContext): Promise<ChargeInvoiceResult> {
  const delay = Math.max(0, Date.parse(invoice.nextChargeAt!) - Date.now());
  await ctx.queues.add('charge', 'charge', { invoiceId: invoice.id }, { jobId: jobIds.dunning(invoice.id, invoice.dunningStep), delay });
  return { paymentStatus: 'PENDING', nextChargeAt: invoice.nextChargeAt };
}

/** Someone else holds the charge, or it moved on meanwhile: look once more, then come back after the lease. */
async function lookAgain(invoiceId: string, ctx: JobContext): Promise<ChargeInvoiceResult> {
  const now = (await findInvoice(ctx.db, invoiceId))!;
  if (now.paymentStatus !== 'PENDING') return settledAlready(now, ctx);
  if (dunningAhead(now)) return scheduleDunning(now, ctx);
  throw await heldElsewhere(ctx.db, 'invoices', invoiceId);
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
