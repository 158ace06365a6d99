// SdI notification routes: accept a notification as JSON or as the SdI's own XML receipt (validate, enqueue), and show them.
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { canAccessCustomer, type Principal } from '../../shared/access/principal.js';
import { findInvoice } from '../../shared/invoices/store.js';
import { nowIso } from '../../shared/platform/db.js';
import { XmlParseError } from '../../shared/sdi/fatturapa/dom.js';
import { isSettlingReceipt, parseSdiReceipt, RECEIPT_OUTCOMES } from '../../shared/sdi/fatturapa/messages.js';
import { createXsdValidator, MESSAGES_XSD } from '../../shared/sdi/fatturapa/xsd.js';
import { findSdiFileByName } from '../../shared/sdi/files.js';
import { findVisibleNotification, recordNotification, sdiNotificationId, sdiNotificationSchema, type SdiNotification } from '../../shared/sdi/notifications.js';
import { findVisibleReceipt, recordReceipt } from '../../shared/sdi/receipts.js';
import { ApiError, notFound } from '../errors.js';
import { requireCustomer } from '../guards.js';
import { parseInput } from '../validate.js';
import { RATE_COST } from '../rate-limit.js';
import { errorBody, instant, links } from '../contract/components.js';
import { JSON_BODY_LIMIT, type DefineRoute } from '../contract/route-table.js';
import { resourceId } from '../../shared/platform/input.js';

/** The body types an SdI receipt arrives as. */
export const XML_TYPES = ['application/xml', 'text/xml', 'application/*+xml'];

/** The largest receipt read: a signed NotificaScarto listing many errors fits well within it. */
export const RECEIPT_BODY_LIMIT = '64kb';

export function sdiRoutes(define: DefineRoute, ctx: AppContext): void {
  const xsd = createXsdValidator();

  /**
   * Records a notification, then queues it; the id derives from it, so the SdI repeating itself is applied once. The
   * row comes first: the SdI says a thing once, so what it said must outlive a Redis that loses the job (the sweep
   * queues every pending notification again).
   */
  async function enqueue(principal: Principal, notification: SdiNotification): Promise<string> {
    const id = sdiNotificationId(notification.customerId, notification.invoiceNumber, notification.status);
    const acceptedAt = nowIso();
    await recordNotification(ctx.db, id, notification, acceptedAt, actors.user(principal.userId));
    const payload = { notificationId: id, notification, acceptedAt, submittedBy: principal.userId };
    await ctx.queues.add('invoice-save', 'sdi-notification', payload, { jobId: jobIds.sdiNotification(id) });
    return id;
  }

  const accepted = (res: Response, id: string, fields: Record<string, unknown> = {}, links: Record<string, string> = {}) =>
    res.status(202).json({ id, status: 'RECEIVED', ...fields, links: { self: `/v1/sdi/notifications/${id}`, ...links } });

  /**
   * An SdI receipt: schema-checked, matched to the invoice by the file name it names, then queued like a JSON
   * notification. Every receipt is recorded, including the ones refused, so an operator can see what arrived.
   */
  async function acceptReceipt(req: Request, res: Response): Promise<void> {
    const { principal } = res.locals;
    const body = typeof req.body === 'string' ? req.body : '';
    const receivedBy = actors.user(principal.userId);
    const refuse = async (status: number, code: string, message: string, fields: { reason: string; details?: unknown; outcome?: 'invalid' | 'unmatched'; messageType?: string; fileName?: string }) => {
      const receiptId = await recordReceipt(ctx.db, { outcome: fields.outcome ?? 'invalid', reason: fields.reason, body, receivedBy, messageType: fields.messageType, fileName: fields.fileName });
      throw new ApiError(status, code, message, { receiptId, ...(fields.details ? { errors: fields.details } : {}) });
    };

    if (!body.trim()) throw new ApiError(400, 'invalid_receipt', 'the request body is empty');
    let receipt;
    try {
      receipt = parseSdiReceipt(body);
    } catch (err) {
      if (!(err instanceof XmlParseError)) throw err;
      return refuse(400, 'invalid_receipt', err.message, { reason: err.message });
    }
    const validation = await xsd.validate(body, MESSAGES_XSD, 'receipt.xml');
    if (!validation.valid) {
      const reason = `not a valid SdI message: ${validation.errors.map((e) => e.message).join('; ')}`.slice(0, 2000);
      return refuse(400, 'invalid_receipt', 'the receipt does not validate against MessaggiTypes_v1.1.xsd', {
        reason,
        details: validation.errors,
        messageType: receipt.messageType,
        fileName: receipt.fileName,
      });
    }
    const { messageType, fileName } = receipt;
    if (!isSettlingReceipt(messageType)) {
      return refuse(422, 'unsupported_receipt', `${messageType} does not settle an invoice: send ${Object.keys(RECEIPT_OUTCOMES).join(', ')}`, {
        reason: `unsupported message type ${messageType}`,
        messageType,
        fileName,
      });
    }
    const file = fileName ? await findSdiFileByName(ctx.db, fileName) : undefined;
    const invoice = file ? await findInvoice(ctx.db, file.invoiceId) : undefined;
    if (!file || !invoice) {
      return refuse(422, 'unknown_file', `no invoice was sent as ${fileName}`, { reason: `no invoice was sent as ${fileName}`, outcome: 'unmatched', messageType, fileName });
    }
    requireCustomer(principal, invoice.customerId);

    const notification: SdiNotification = {
      customerId: invoice.customerId,
      invoiceNumber: invoice.number,
      status: RECEIPT_OUTCOMES[messageType],
      ...(receipt.errors.length ? { errors: receipt.errors.slice(0, 100) } : {}),
    };
    const id = await enqueue(principal, notification);
    const receiptId = await recordReceipt(ctx.db, {
      outcome: 'accepted',
      body,
      receivedBy,
      messageType,
      fileName,
      sdiIdentifier: receipt.sdiIdentifier,
      sdiMessageId: receipt.messageId,
      invoiceId: invoice.id,
      notificationId: id,
    });
    accepted(res, id, { invoiceId: invoice.id, receiptId }, { receipt: `/v1/sdi/receipts/${receiptId}` });
  }

  define(
    {
      method: 'post',
      path: '/sdi/notifications',
      operationId: 'receiveSdiNotification',
      summary: 'Tell Antaeus what the SdI said about an invoice',
      description:
        'Either a JSON notification naming the invoice by customer and number, or the SdI\'s own XML receipt (RicevutaConsegna, NotificaMancataConsegna, NotificaScarto…) matched by the file name it names. The same notification twice is applied once.',
      tag: 'sdi',
      audience: 'client',
      // One path, two body types: the handler picks the parser's result by Content-Type and validates it itself.
      rawBody: {
        description: 'A JSON notification, or an SdI receipt as XML (at most 64 KB).',
        content: { 'application/json': sdiNotificationSchema, 'application/xml': z.string().meta({ description: 'A receipt valid against MessaggiTypes_v1.1.xsd.' }) },
      },
      before: [express.json({ limit: JSON_BODY_LIMIT }), express.text({ type: XML_TYPES, limit: RECEIPT_BODY_LIMIT })],
      cost: RATE_COST.xmlReceipt,
      responses: {
        202: { description: 'Recorded and queued: follow `links.self`.', schema: acceptedNotification },
        422: { description: 'A receipt that does not settle an invoice.', schema: errorBody },
      },
    },
    async (_input, req, res) => {
      if (req.is(XML_TYPES)) return acceptReceipt(req, res);
      const { principal } = res.locals;
      const notification = parseInput(sdiNotificationSchema, req.body, 'body');
      requireCustomer(principal, notification.customerId);
      accepted(res, await enqueue(principal, notification));
    },
  );

  define(
    {
      method: 'get',
      path: '/sdi/notifications/:id',
      operationId: 'getSdiNotification',
      summary: 'Read a notification and whether it was applied',
      tag: 'sdi',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The notification.', schema: notificationSchema } },
    },
    async ({ params }, _req, res) => {
      const { principal } = res.locals;
      const stored = await findVisibleNotification(ctx.db, principal, params.id);
      if (stored) {
        res.json(stored);
        return;
      }
      const job = await ctx.queues.getJob('invoice-save', jobIds.sdiNotification(params.id));
      if (!job || job.name !== 'sdi-notification') throw notFound('notification');
      const { notification, acceptedAt, submittedBy } = job.data as { notification: { customerId: string }; acceptedAt: string; submittedBy: string };
      if (!canAccessCustomer(principal, notification.customerId)) throw notFound('notification');
      res.json({ id: params.id, ...notification, outcome: 'pending', receivedAt: acceptedAt, receivedBy: actors.user(submittedBy) });
    },
  );

  define(
    {
      method: 'get',
      path: '/sdi/receipts/:id',
      operationId: 'getSdiReceipt',
      summary: 'Read an XML receipt as it arrived, and what became of it',
      tag: 'sdi',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The receipt.', schema: receiptSchema } },
    },
    async ({ params }, _req, res) => {
      const receipt = await findVisibleReceipt(ctx.db, res.locals.principal, params.id);
      if (!receipt) throw notFound('receipt');
      res.json(receipt);
    },
  );
}

const idParams = z.strictObject({ id: resourceId(100) });

const acceptedNotification = z
  .object({
    id: z.string(),
    status: z.literal('RECEIVED'),
    invoiceId: z.string().optional(),
    receiptId: z.string().optional(),
    links,
  })
  .meta({ id: 'AcceptedSdiNotification' });

const notificationSchema = z
  .object({
    id: z.string(),
    customerId: z.string(),
    invoiceNumber: z.string(),
    status: z.string(),
    outcome: z.string().meta({ description: '`pending` until applied to the invoice.' }),
    receivedAt: instant,
    receivedBy: z.string(),
  })
  .loose()
  .meta({ id: 'SdiNotification' });

const receiptSchema = z
  .object({
    id: z.string(),
    messageType: z.string().nullable(),
    fileName: z.string().nullable(),
    invoiceId: z.string().nullable(),
    notificationId: z.string().nullable(),
    outcome: z.string(),
    reason: z.string().nullable(),
    receivedAt: instant,
    receivedBy: z.string(),
  })
  .loose()
  .meta({ id: 'SdiReceipt' });
