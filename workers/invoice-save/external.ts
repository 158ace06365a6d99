// invoice-save/external: persist an invoice a supplier sent to one of our customers; nothing of ours to send or charge.
import type { JobData } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { findCustomer } from '../../shared/access/customers.js';
import { notifyInvoiceStatus } from '../../shared/invoices/notify.js';
import { findInvoice, insertNewInvoice, transitionInvoice } from '../../shared/invoices/store.js';
import type { JobContext } from '../types.js';

export async function saveExternalInvoice(payload: JobData<'invoice-save', 'external'>, ctx: JobContext): Promise<{ status: string }> {
  const { invoiceId, document } = payload;
  await insertNewInvoice(ctx.db, { id: invoiceId, kind: 'external', document, acceptedAt: payload.acceptedAt, submittedBy: payload.submittedBy });

  const saved = await findInvoice(ctx.db, invoiceId);
  if (!saved) throw new Error(`invoice ${invoiceId} vanished after insert`);
  if (saved.status === 'INTERNAL_INVOICE_NEW') {
    const customer = await findCustomer(ctx.db, document.customerId);
    await transitionInvoice(ctx.db, invoiceId, customer ? 'EXTERNAL_INVOICE' : 'INTERNAL_INVOICE_INVALID', {
      actor: actors.worker('invoice-save'),
      details: customer ? undefined : { reason: `unknown customer ${document.customerId}` },
    });
  }

  const invoice = (await findInvoice(ctx.db, invoiceId))!;
  await notifyInvoiceStatus(ctx, invoice);
  return { status: invoice.status };
}
