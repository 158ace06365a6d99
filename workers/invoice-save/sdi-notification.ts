// invoice-save/sdi-notification: apply the SdI's verdict to the invoice it names, or record why it cannot be applied.
import type { JobData } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { notifyInvoiceStatus } from '../../shared/invoices/notify.js';
import type { InvoiceStatus } from '../../shared/invoices/status.js';
import { findInvoice, findInvoiceByNumber, transitionInvoice, voidUnlessSettled } from '../../shared/invoices/store.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { recordNotification, settleNotification, SDI_OUTCOME_STATUS } from '../../shared/sdi/notifications.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'invoice-save', 'sdi-notification'>;

// A verdict can overtake the send that caused it (the mail left, the SENT update is still on its way): wait for it.
const NOT_YET_SENT: readonly InvoiceStatus[] = ['INTERNAL_INVOICE_NEW', 'INTERNAL_INVOICE_TOBE_SENT', 'INTERNAL_INVOICE_NOT_SENT'];

export async function applySdiNotification(payload: Payload, ctx: JobContext): Promise<{ outcome: string }> {
  const { notificationId: id, notification: n } = payload;
  const stored = await recordNotification(ctx.db, id, n, payload.acceptedAt, actors.user(payload.submittedBy));
  if (stored.outcome !== 'pending') return { outcome: stored.outcome };

  const invoice = await findInvoiceByNumber(ctx.db, 'internal', n.customerId, n.invoiceNumber);
  if (!invoice) {
    await settleNotification(ctx.db, id, 'invalid', { reason: `no internal invoice ${n.invoiceNumber} for customer ${n.customerId}` });
    return { outcome: 'invalid' };
  }

  const to = SDI_OUTCOME_STATUS[n.status];
  const result = await transitionInvoice(ctx.db, invoice.id, to, {
    actor: actors.sdi,
    details: { notificationId: id, ...(n.errors ? { errors: n.errors } : {}) },
    // A discarded invoice was never issued: nothing is owed, so it is never charged.
    set: to === 'INTERNAL_INVOICE_DISCARDED' ? voidUnlessSettled(ctx.db) : undefined,
  });
  if (result.moved || result.reason === 'already') {
    await settleNotification(ctx.db, id, 'applied', { invoiceId: invoice.id });
    await notifyInvoiceStatus(ctx, (await findInvoice(ctx.db, invoice.id))!);
    return { outcome: 'applied' };
  }
  if (result.status && NOT_YET_SENT.includes(result.status)) {
    throw new RetryableError(`invoice ${invoice.id} is ${result.status}, not yet sent`);
  }
  await settleNotification(ctx.db, id, 'invalid', { invoiceId: invoice.id, reason: `invoice is ${result.status}: cannot become ${SDI_OUTCOME_STATUS[n.status]}` });
  return { outcome: 'invalid' };
}

export async function giveUpSdiNotification(payload: Payload, ctx: JobContext, error: Error): Promise<void> {
  await settleNotification(ctx.db, payload.notificationId, 'invalid', { reason: `gave up: ${error.message}` });
}
