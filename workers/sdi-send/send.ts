// sdi-send/send: render the invoice as FatturaPA once, check it against the schema, mail it to the SdI once, mark it SENT.
import { UnrecoverableError } from 'bullmq';
import type { JobData } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { findCustomer } from '../../shared/access/customers.js';
import type { Invoice } from '../../shared/invoices/invoice.js';
import { notifyInvoiceStatus } from '../../shared/invoices/notify.js';
import type { InvoiceStatus } from '../../shared/invoices/status.js';
import { findInvoice, listInvoiceLines, transitionInvoice } from '../../shared/invoices/store.js';
import { renderFatturaPA, transmissionFormat } from '../../shared/sdi/fatturapa/render.js';
import { INVOICE_XSD } from '../../shared/sdi/fatturapa/xsd.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { claimSdiSend, discardUnsentSdiFile, findSdiFileByInvoice, markSdiFileSent, markSdiFileValid, prepareSdiFile, releaseSdiSend, type SdiFile } from '../../shared/sdi/files.js';
import type { SmtpAcceptance } from '../../shared/sdi/mailer.js';
import { sellerOf, transmitterOf } from '../../shared/sdi/seller.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'sdi-send', 'send'>;

/** A send holds its file for as long as nodemailer's steps may take (connect, greet, each command, the data): then it has ended. */
const sendLeaseMs = (config: { smtpTimeoutMs: number }): number => 4 * config.smtpTimeoutMs;

const SENDABLE: readonly InvoiceStatus[] = ['INTERNAL_INVOICE_TOBE_SENT', 'INTERNAL_INVOICE_NOT_SENT'];
const ALREADY_SENT: readonly InvoiceStatus[] = [
  'INTERNAL_INVOICE_SENT',
  'INTERNAL_INVOICE_DELIVERED',
  'INTERNAL_INVOICE_DISCARDED',
  'INTERNAL_INVOICE_NOT_DELIVERED',
];

export async function sendToSdi({ invoiceId }: Payload, ctx: JobContext): Promise<{ status: string; fileName?: string }> {
  const invoice = await findInvoice(ctx.db, invoiceId);
  if (!invoice) throw new UnrecoverableError(`invoice ${invoiceId} does not exist`);
  if (ALREADY_SENT.includes(invoice.status)) return { status: invoice.status };
  if (!SENDABLE.includes(invoice.status)) throw new UnrecoverableError(`invoice ${invoiceId} is ${invoice.status}: not sendable`);

  // A retry finds the file of the first run: the same bytes under the same name.
  const file = (await findSdiFileByInvoice(ctx.db, invoiceId)) ?? (await renderFile(invoice, ctx));

  if (!file.sentAt) {
    if (!file.validatedAt) {
      // A document the SdI would discard is not worth sending: stop here and say why.
      const check = await ctx.services.xsd.validate(file.xml, INVOICE_XSD, file.fileName);
      if (!check.valid) {
        await discardUnsentSdiFile(ctx.db, file.fileName);
        const reasons = check.errors.slice(0, 5).map((e) => e.message).join('; ');
        throw new UnrecoverableError(`rendered FatturaPA does not validate: ${reasons}`);
      }
      await markSdiFileValid(ctx.db, file.fileName);
    }
    const leaseMs = sendLeaseMs(ctx.config);
    const lease = await claimSdiSend(ctx.db, file.fileName, leaseMs);
    if (!lease) {
      // Another attempt is mailing it, or just did: come back once its lease is over, or find it sent.
      if (!(await findSdiFileByInvoice(ctx.db, invoiceId))?.sentAt) throw new RetryableError(`another attempt is mailing ${file.fileName}`, leaseMs);
    } else {
      const finalAttempt = ctx.job.attempt >= ctx.job.maxAttempts;
      let accepted: SmtpAcceptance;
      try {
        accepted = await ctx.services.mailer.send({ fileName: file.fileName, xml: file.xml }, { finalAttempt });
      } catch (err) {
        await releaseSdiSend(ctx.db, file.fileName, lease).catch(() => undefined);
        throw err;
      }
      // Recorded at once: from here on a retry finds sent_at and never mails the file again.
      await markSdiFileSent(ctx.db, file.fileName, accepted);
      ctx.log.info({ invoiceId, fileName: file.fileName, smtpMessageId: accepted.messageId }, 'invoice mailed to the SdI');
    }
  }

  await transitionInvoice(ctx.db, invoiceId, 'INTERNAL_INVOICE_SENT', { actor: actors.worker('sdi-send'), details: { fileName: file.fileName } });
  const current = (await findInvoice(ctx.db, invoiceId))!;
  await notifyInvoiceStatus(ctx, current);
  return { status: current.status, fileName: file.fileName };
}

/** Renders the invoice under the transmitter's next progressive, and keeps it. */
async function renderFile(invoice: Invoice, ctx: JobContext): Promise<SdiFile> {
  const customer = await findCustomer(ctx.db, invoice.customerId);
  if (!customer) throw new UnrecoverableError(`customer ${invoice.customerId} of invoice ${invoice.id} does not exist`);
  const lines = await listInvoiceLines(ctx.db, invoice.id);
  const seller = sellerOf(ctx.config);
  const transmitter = transmitterOf(ctx.config);
  return prepareSdiFile(ctx.db, {
    invoiceId: invoice.id,
    transmitter,
    format: transmissionFormat(customer),
    render: (progressive) => renderFatturaPA({ invoice, lines, customer, seller, transmitter, progressive }),
  });
}

/** Attempts exhausted, or a failure that no retry can mend: NOT_SENT, and the client is told. The job stays in the DLQ. */
export async function giveUpSending({ invoiceId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  const moved = await transitionInvoice(ctx.db, invoiceId, 'INTERNAL_INVOICE_NOT_SENT', {
    actor: actors.worker('sdi-send'),
    details: { reason: error.message, attempts: ctx.job.attempt },
  });
  if (moved.moved) await notifyInvoiceStatus(ctx, (await findInvoice(ctx.db, invoiceId))!);
}
