// Invoice routes: accept internal and external invoices (validate, derive the id, enqueue), read one, list.
import type { Job } from 'bullmq';
import type { Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { canAccessCustomer } from '../../shared/access/principal.js';
import { listCallbacks } from '../../shared/callbacks/messages.js';
import { externalInvoiceDocumentSchema, invoiceDocumentSchema, type ExternalInvoiceDocument, type InvoiceDocument } from '../../shared/invoices/document.js';
import { invoiceId, invoiceFromDocument, invoiceView, type InvoiceKind } from '../../shared/invoices/invoice.js';
import { INVOICE_STATUSES, PAYMENT_STATUSES } from '../../shared/invoices/status.js';
import { findInvoice, listInvoiceEvents, listInvoiceLines, listInvoices } from '../../shared/invoices/store.js';
import { nowIso } from '../../shared/platform/db.js';
import { isoDate, resourceId } from '../../shared/platform/input.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { findSdiFileByInvoice, type SdiFile } from '../../shared/sdi/files.js';
import { pageOf } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { ApiError, notFound } from '../errors.js';
import { assertCallbackUrl, requireCustomer } from '../guards.js';
import { RATE_COST } from '../rate-limit.js';
import { acceptedInvoice, invoiceDetail, invoiceSchema } from './invoices.schemas.js';

const listQuery = z.strictObject({
  ...pageQuery.shape,
  status: z.enum(INVOICE_STATUSES).optional(),
  paymentStatus: z.enum(PAYMENT_STATUSES).optional(),
  customerId: resourceId(64).optional(),
  from: isoDate.optional().meta({ description: 'Issued on or after this day.' }),
  to: isoDate.optional().meta({ description: 'Issued on or before this day.' }),
});

const idParams = z.strictObject({ id: resourceId(64).meta({ description: 'The invoice id.', example: 'inv_3k9v2m7q8x1c' }) });

type IntakeJob = Job<JobData<'invoice-save', 'internal'> | JobData<'invoice-save', 'external'>>;

export function invoicesRoutes(define: DefineRoute, ctx: AppContext): void {
  const accept = (kind: InvoiceKind) =>
    async (document: InvoiceDocument | ExternalInvoiceDocument, res: Response) => {
      const { principal } = res.locals;
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
  const acceptInternal = accept('internal');
  const acceptExternal = accept('external');

  define(
    {
      method: 'post',
      path: '/invoices',
      operationId: 'createInvoice',
      summary: 'Issue an invoice',
      description:
        'Validates the document and queues it: it is saved, rendered as FatturaPA XML and mailed to the SdI. The id derives from the customer and number, so a resubmission answers the same id and does nothing twice.',
      tag: 'invoices',
      audience: 'client',
      body: invoiceDocumentSchema,
      cost: RATE_COST.write,
      responses: { 202: { description: 'Accepted: follow `links.self`.', schema: acceptedInvoice } },
    },
    ({ body }, _req, res) => acceptInternal(body, res),
  );

  define(
    {
      method: 'post',
      path: '/invoices/external',
      operationId: 'createExternalInvoice',
      summary: 'Record an invoice received from a supplier',
      tag: 'invoices',
      audience: 'client',
      body: externalInvoiceDocumentSchema,
      cost: RATE_COST.write,
      responses: { 202: { description: 'Accepted: follow `links.self`.', schema: acceptedInvoice } },
    },
    ({ body }, _req, res) => acceptExternal(body, res),
  );

  define(
    {
      method: 'get',
      path: '/invoices',
      operationId: 'listInvoices',
      summary: 'List invoices, newest first',
      tag: 'invoices',
      audience: 'client',
      query: listQuery,
      responses: { 200: { description: 'One page of the invoices of the customers the key acts for.', schema: pageOf(invoiceSchema, 'InvoicePage') } },
    },
    async ({ query }, _req, res) => {
      const page = await listInvoices(ctx.db, res.locals.principal, query, toPageArgs(query));
      res.json({ data: page.data.map(invoiceView), nextCursor: page.nextCursor });
    },
  );

  define(
    {
      method: 'get',
      path: '/invoices/:id/xml',
      operationId: 'getInvoiceXml',
      summary: 'Download the FatturaPA document',
      tag: 'invoices',
      audience: 'client',
      params: idParams,
      responses: {
        200: { description: 'The FatturaPA XML sent to the SdI, as an attachment named as the SdI knows it.', content: { 'application/xml': z.string() } },
      },
    },
    async ({ params }, _req, res) => {
      const invoice = await findInvoice(ctx.db, params.id);
      if (!invoice || !canAccessCustomer(res.locals.principal, invoice.customerId)) throw notFound('invoice');
      const file = await findSdiFileByInvoice(ctx.db, invoice.id);
      if (!file) throw new ApiError(404, 'not_rendered', `invoice ${invoice.id} is ${invoice.status} and has no FatturaPA document yet`);
      res
        .type('application/xml')
        .set('Content-Disposition', `attachment; filename="${file.fileName}"`)
        .send(file.xml);
    },
  );

  define(
    {
      method: 'get',
      path: '/invoices/:id',
      operationId: 'getInvoice',
      summary: 'Read an invoice with its lines, timeline, SdI file and callbacks',
      description: 'An invoice accepted but not saved yet reads `INTERNAL_INVOICE_NEW` with a `processing` section.',
      tag: 'invoices',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The invoice.', schema: invoiceDetail } },
    },
    async ({ params }, _req, res) => {
      const { principal } = res.locals;
      const id = params.id;
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
        sdi: null,
        processing: { state: await job.getState(), attemptsMade: job.attemptsMade, lastError: job.failedReason || null },
      });
    },
  );
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
