// SdI notification routes: accept a notification as JSON or as the SdI's own XML receipt (validate, enqueue), and show them.
import express, { type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { canAccessCustomer, type Principal } from '../../shared/access/principal.js';
import { nowIso } from '../../shared/platform/db.js';
import { XmlParseError } from '../../shared/sdi/fatturapa/dom.js';
import { isSettlingReceipt, parseSdiReceipt, RECEIPT_OUTCOMES, type ParsedReceipt } from '../../shared/sdi/fatturapa/messages.js';
import { MESSAGES_XSD } from '../../shared/sdi/fatturapa/xsd.js';
import { findVisibleNotification, recordNotification, sdiNotificationId, sdiNotificationSchema, type SdiNotification } from '../../shared/sdi/notifications.js';
import { findInvoiceSentAs, findVisibleReceipt, recordReceipt } from '../../shared/sdi/receipts.js';
import { ApiError, notFound } from '../errors.js';
import { requireCustomer } from '../guards.js';
import { parseInput } from '../validate.js';
import { RATE_COST } from '../rate-limit.js';
import { errorBody, instant, links } from '../contract/components.js';
import { JSON_BODY_LIMIT, type DefineRoute } from '../contract/route-table.js';
import { resourceId } from '../../shared/platform/input.js';

/** The body types an SdI receipt arrives as. */
export const XML_TYPES = ['application/xml', 'text/xml', 'application/*+xml'];

/**
 * The largest receipt read. The biggest the schema allows, a NotificaScarto listing 200 errors of 255 characters each
 * (about 70 KB in ASCII, some 120 KB were every letter accented), fits with its XML signature and certificate; a body
 * a parser or the validator could choke on does not.
 */
export const RECEIPT_BODY_LIMIT = '128kb';

const xmlText = express.text({ type: XML_TYPES, limit: RECEIPT_BODY_LIMIT });
const tooLarge = new ApiError(413, 'payload_too_large', 'an SdI receipt is at most 128 KB');

/** Reads an XML body up to RECEIPT_BODY_LIMIT; a longer one is answered 413 (saying this limit) without reading it further. */
const readReceiptBody: RequestHandler = (req, res, next) =>
  xmlText(req, res, (err?: unknown) => next((err as { type?: string } | undefined)?.type === 'entity.too.large' ? tooLarge : err));

/** A receipt read in one bounded pass (no DOCTYPE, capped depth and breadth); what is not one is refused, and not kept. */
function readReceipt(body: string): ParsedReceipt & { fileName: string } {
  if (!body.trim()) throw new ApiError(400, 'invalid_receipt', 'the request body is empty');
  let receipt: ParsedReceipt;
  try {
    receipt = parseSdiReceipt(body);
  } catch (err) {
    if (!(err instanceof XmlParseError)) throw err;
    throw new ApiError(400, 'invalid_receipt', err.message);
  }
  if (!receipt.fileName) throw new ApiError(400, 'invalid_receipt', `the ${receipt.messageType} names no file (NomeFile): it cannot be matched to an invoice`);
  return { ...receipt, fileName: receipt.fileName };
}

export function sdiRoutes(define: DefineRoute, ctx: AppContext): void {
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
   * An SdI receipt: read with a bounded parser, matched to an invoice the caller may see by the file name it names,
   * then schema-checked and queued like a JSON notification. Nothing is kept until that match: a file that does not
   * exist and another customer's file get one and the same answer, and neither leaves a row. Once matched, every
   * receipt is kept with what became of it, the refused ones too, so an operator can see what arrived.
   */
  async function acceptReceipt(req: Request, res: Response): Promise<void> {
    const { principal } = res.locals;
    const body = typeof req.body === 'string' ? req.body : '';
    const receipt = readReceipt(body);
    const { messageType, fileName } = receipt;
    const invoice = await visibleInvoiceSentAs(principal, fileName);
    const kept = { body, receivedBy: actors.user(principal.userId), messageType, fileName, invoiceId: invoice.invoiceId };
    const refuse = async (status: number, code: string, message: string, reason: string, errors?: unknown) => {
      const receiptId = await recordReceipt(ctx.db, { ...kept, outcome: 'invalid', reason });
      throw new ApiError(status, code, message, { receiptId, ...(errors ? { errors } : {}) });
    };

    // After the match, so only a caller naming its own invoice can make us validate: junk costs a parse and a query.
    const validation = await ctx.xsd.validate(body, MESSAGES_XSD, 'receipt.xml');
    if (!validation.valid) {
      const reason = `not a valid SdI message: ${validation.errors.map((e) => e.message).join('; ')}`.slice(0, 2000);
      return refuse(400, 'invalid_receipt', 'the receipt does not validate against MessaggiTypes_v1.1.xsd', reason, validation.errors);
    }
    if (!isSettlingReceipt(messageType)) {
      return refuse(422, 'unsupported_receipt', `${messageType} does not settle an invoice: send ${Object.keys(RECEIPT_OUTCOMES).join(', ')}`, `unsupported message type ${messageType}`);
    }

    const notification: SdiNotification = {
      customerId: invoice.customerId,
      invoiceNumber: invoice.number,
      status: RECEIPT_OUTCOMES[messageType],
      ...(receipt.errors.length ? { errors: receipt.errors.slice(0, 100) } : {}),
    };
    const id = await enqueue(principal, notification);
    const receiptId = await recordReceipt(ctx.db, { ...kept, outcome: 'accepted', sdiIdentifier: receipt.sdiIdentifier, sdiMessageId: receipt.messageId, notificationId: id });
    accepted(res, id, { invoiceId: invoice.invoiceId, receiptId }, { receipt: `/v1/sdi/receipts/${receiptId}` });
  }

  /** The invoice sent as `fileName`, if the caller may see it; otherwise one answer, whether the file is someone else's or nobody's. */
  async function visibleInvoiceSentAs(principal: Principal, fileName: string) {
    const invoice = await findInvoiceSentAs(ctx.db, fileName);
    if (invoice && canAccessCustomer(principal, invoice.customerId)) return invoice;
    const named = fileName.length > 50 ? `${fileName.slice(0, 50)}…` : fileName;
    throw new ApiError(404, 'not_found', `no invoice you can see was sent as ${named}`);
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
        description: 'A JSON notification, or an SdI receipt as XML (at most 128 KB).',
        content: { 'application/json': sdiNotificationSchema, 'application/xml': z.string().meta({ description: 'A receipt valid against MessaggiTypes_v1.1.xsd.' }) },
      },
      before: [express.json({ limit: JSON_BODY_LIMIT }), readReceiptBody],
      cost: RATE_COST.xmlReceipt,
      responses: {
        202: { description: 'Recorded and queued: follow `links.self`.', schema: acceptedNotification },
        404: { description: 'A receipt naming a file that no invoice this API key may see was sent as: the same answer for another customer’s file as for one never sent.', schema: errorBody },
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
    status: z.string().meta({ description: 'What the SdI said: DELIVERED, NOT_DELIVERED or DISCARDED.' }),
    errors: z.array(z.object({ code: z.string(), description: z.string().optional() })).optional(),
    invoiceId: z.string().nullable().optional(),
    outcome: z.enum(['pending', 'applied', 'invalid']).meta({ description: '`pending` until applied to the invoice; `invalid` with a `reason`.' }),
    reason: z.string().nullable().optional(),
    receivedAt: instant,
    receivedBy: z.string(),
    processedAt: instant.nullable().optional(),
  })
  .meta({ id: 'SdiNotification' });

const receiptSchema = z
  .object({
    id: z.string(),
    messageType: z.string().nullable(),
    fileName: z.string().nullable(),
    sdiIdentifier: z.string().nullable(),
    sdiMessageId: z.string().nullable(),
    invoiceId: z.string().nullable(),
    notificationId: z.string().nullable(),
    outcome: z.enum(['accepted', 'invalid', 'unmatched']),
    reason: z.string().nullable(),
    receivedAt: instant,
    receivedBy: z.string(),
  })
  .meta({ id: 'SdiReceipt' });
