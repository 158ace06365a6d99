// Invoice routes: accept internal and external invoices (validate, derive the id, enqueue), read one, list.
import type { Job } from 'bullmq';
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { canAccessCustomer } from '../../shared/access/principal.js';
import { listCallbacks } from '../../shared/callbacks/messages.js';
import { externalInvoiceDocumentSchema, invoiceDocumentSchema } from '../../shared/invoices/document.js';
import { invoiceId, invoiceFromDocument, invoiceView, type InvoiceKind } from '../../shared/invoices/invoice.js';
import { INVOICE_STATUSES, PAYMENT_STATUSES } from '../../shared/invoices/status.js';
import { findInvoice, listInvoiceEvents, listInvoiceLines, listInvoices } from '../../shared/invoices/store.js';
import { nowIso } from '../../shared/platform/db.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { findSdiFileByInvoice, type SdiFile } from '../../shared/sdi/files.js';
import { ApiError, notFound } from '../errors.js';
import { assertCallbackUrl, requireCustomer } from '../guards.js';
import { parseBody, parseQuery } from '../validate.js';

const listQuery = pageQuery.extend({
  status: z.enum(INVOICE_STATUSES).optional(),
  paymentStatus: z.enum(PAYMENT_STATUSES).optional(),
  customerId: z.string().max(64).optional(),
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
});

type IntakeJob = Job<JobData<'invoice-save', 'internal'> | JobData<'invoice-save', 'external'>>;

export function invoicesRoutes(router: Router, ctx: AppContext): void {
  const accept = (kind: InvoiceKind, schema: typeof invoiceDocumentSchema | typeof externalInvoiceDocumentSchema) =>
    async (req: Request, res: Response) => {
      const { principal } = res.locals;
      const document = parseBody(schema, req.body);
      requireCustomer(principal, document.customerId);
      if (document.callbackUrl) await assertCallbackUrl(ctx.config.callbackAllowedHosts, document.callbackUrl);
      const id = invoiceId(kind, document.customerId, document.number);
      const links = { self: `/v1/invoices/${id}` };

      // Thin on purpose: no database read. The id derives from the document, so a resubmission gets the same id;
      // the job id makes BullMQ ignore it while the first job exists, and the unique row makes the save a no-op after.
      const payload = { invoiceId: id, document, acceptedAt: nowIso(), submittedBy: principal.userId };
      await ctx.queues.add('invoice-save', kind, payload, { jobId: jobIds.invoiceSave(id) });
      res.status(202).json({ id, status: 'INTERNAL_INVOICE_NEW', links });
    };

  router.post('/invoices', accept('internal', invoiceDocumentSchema));
  router.post('/invoices/external', accept('external', externalInvoiceDocumentSchema));

  router.get('/invoices', async (req, res) => {
    const query = parseQuery(listQuery, req.query);
    const page = await listInvoices(ctx.db, res.locals.principal, query, toPageArgs(query));
    res.json({ data: page.data.map(invoiceView), nextCursor: page.nextCursor });
  });

  router.get('/invoices/:id/xml', async (req, res) => {
    const invoice = await findInvoice(ctx.db, req.params.id);
    if (!invoice || !canAccessCustomer(res.locals.principal, invoice.customerId)) throw notFound('invoice');
    const file = await findSdiFileByInvoice(ctx.db, invoice.id);
    if (!file) throw new ApiError(404, 'not_rendered', `invoice ${invoice.id} is ${invoice.status} and has no FatturaPA document yet`);
    res
      .type('application/xml')
      .set('Content-Disposition', `attachment; filename="${file.fileName}"`)
      .send(file.xml);
  });

  router.get('/invoices/:id', async (req, res) => {
    const { principal } = res.locals;
    const id = req.params.id;
    const invoice = await findInvoice(ctx.db, id);
    if (invoice) {
      if (!canAccessCustomer(principal, invoice.customerId)) throw notFound('invoice');
      const [lines, events, callbacks, file] = await Promise.all([
        listInvoiceLines(ctx.db, id),
        listInvoiceEvents(ctx.db, id),
        listCallbacks(ctx.db, { type: 'invoice', id }),
        findSdiFileByInvoice(ctx.db, id),
      ]);
      // The SdI's verdict, with its reasons when it discarded the invoice, is the last SdI event's details.
      const verdict = events.findLast((e) => e.actor === 'sdi');
      res.json({ ...invoiceView(invoice), lines, events, callbacks, sdi: sdiView(id, file, verdict?.details) });
      return;
    }

    // Accepted but not saved yet: the intake job is the only record, and it says NEW.
    const job = (await ctx.queues.getJob('invoice-save', jobIds.invoiceSave(id))) as IntakeJob | undefined;
    if (!job || (job.name !== 'internal' && job.name !== 'external')) throw notFound('invoice');
    const data = job.data;
    if (!canAccessCustomer(principal, data.document.customerId)) throw notFound('invoice');
    const { invoice: pending, lines } = invoiceFromDocument({ id, kind: job.name, ...data });
    res.json({
      ...invoiceView(pending),
      lines,
      events: [{ from: null, to: pending.status, at: pending.createdAt, actor: pending.createdBy, details: null }],
      callbacks: [],
      processing: { state: await job.getState(), attemptsMade: job.attemptsMade, lastError: job.failedReason || null },
    });
  });

}

/** Where the invoice stands with the SdI: its file, when the SMTP server took it, and the verdict's reasons. */
function sdiView(invoiceId: string, file: SdiFile | undefined, verdict: unknown) {
  if (!file) return null;
  const errors = (verdict as { errors?: unknown } | null | undefined)?.errors ?? null;
  return {
    fileName: file.fileName,
    format: file.format,
    renderedAt: file.renderedAt,
    sentAt: file.sentAt,
    smtpMessageId: file.smtpMessageId,
    errors,
    links: { xml: `/v1/invoices/${invoiceId}/xml` },
  };
}
