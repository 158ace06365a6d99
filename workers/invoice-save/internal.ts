// invoice-save/internal: persist an accepted invoice, check its customer, queue it for the SdI and tell the client.
import { jobIds, type JobData } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { findCustomer } from '../../shared/access/customers.js';
import { notifyInvoiceStatus } from '../../shared/invoices/notify.js';
import { findInvoice, insertNewInvoice, transitionInvoice } from '../../shared/invoices/store.js';
import type { JobContext } from '../types.js';

export async function saveInternalInvoice(payload: JobData<'invoice-save', 'internal'>, ctx: JobContext): Promise<{ status: string }> {
  const { invoiceId, document } = payload;
  const inserted = await insertNewInvoice(ctx.db, { id: invoiceId, kind: 'internal', document, acceptedAt: payload.acceptedAt, submittedBy: payload.submittedBy });
  ctx.log.debug({ invoiceId, inserted }, inserted ? 'invoice saved' : 'invoice already saved');

  const saved = await findInvoice(ctx.db, invoiceId);
  if (!saved) throw new Error(`invoice ${invoiceId} vanished after insert`);
  if (saved.status === 'INTERNAL_INVOICE_NEW') {
    const customer = await findCustomer(ctx.db, document.customerId);
    if (customer) {
      await transitionInvoice(ctx.db, invoiceId, 'INTERNAL_INVOICE_TOBE_SENT', { actor: actors.worker('invoice-save'), set: { payment_status: 'PENDING' } });
    } else {
      await transitionInvoice(ctx.db, invoiceId, 'INTERNAL_INVOICE_INVALID', {
        actor: actors.worker('invoice-save'),
        details: { reason: `unknown customer ${document.customerId}` },
      });
    }
  }

  const invoice = (await findInvoice(ctx.db, invoiceId))!;
  // Enqueued after the commit, every run: a crash between the two is mended by the retry, and the job id dedupes.
  if (invoice.status === 'INTERNAL_INVOICE_TOBE_SENT') {
    await ctx.queues.add('sdi-send', 'send', { invoiceId }, { jobId: jobIds.sdiSend(invoiceId) });
  }
  await notifyInvoiceStatus(ctx, invoice);
  return { status: invoice.status };
}
