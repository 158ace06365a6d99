// Invoice routes: accept internal and external invoices (validate, derive the id, enqueue), read one, list.
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { Job } from 'bullmq';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { listCallbacks } from '../../shared/callbacks.js';
import type { AppContext } from '../../shared/context.js';
import { nowIso } from '../../shared/db.js';
import { invoiceId } from '../../shared/ids.js';
import { externalInvoiceDocumentSchema, invoiceDocumentSchema } from '../../shared/invoice-schema.js';
import { INVOICE_STATUSES, PAYMENT_STATUSES } from '../../shared/invoice-status.js';
import {
  findInvoice,
  invoiceFromDocument,
  invoiceView,
  listInvoiceEvents,
  listInvoiceLines,
  listInvoices,
  type InvoiceKind,
} from '../../shared/invoices.js';
import { canAccessCustomer } from '../../shared/principal.js';
import { allowlistFor } from '../../shared/ssrf.js';
import { notFound } from '../errors.js';
import { assertCallbackUrl, requireCustomer } from '../guards.js';
import { pageQuery, toPageArgs } from '../paging.js';
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
  const allow = allowlistFor(ctx.config.callbackAllowedHosts);

  const accept = (kind: InvoiceKind, schema: typeof invoiceDocumentSchema | typeof externalInvoiceDocumentSchema) =>
    async (req: Request, res: Response) => {
      const { principal } = res.locals;
      const document = parseBody(schema, req.body);
      requireCustomer(principal, document.customerId);
      if (document.callbackUrl) await assertCallbackUrl(allow, document.callbackUrl);
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

  router.get('/invoices/:id', async (req, res) => {
    const { principal } = res.locals;
    const id = req.params.id;
    const invoice = await findInvoice(ctx.db, id);
    if (invoice) {
      if (!canAccessCustomer(principal, invoice.customerId)) throw notFound('invoice');
      const [lines, events, callbacks] = await Promise.all([
        listInvoiceLines(ctx.db, id),
        listInvoiceEvents(ctx.db, id),
        listCallbacks(ctx.db, 'invoice', id),
      ]);
      res.json({ ...invoiceView(invoice), lines, events, callbacks });
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
