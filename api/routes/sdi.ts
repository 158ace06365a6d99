// SdI notification routes: accept a notification as JSON or as the SdI's own XML receipt (validate, enqueue), and show them.
import type { Request, Response, Router } from 'express';
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
import { parseBody } from '../validate.js';

/** The body types an SdI receipt arrives as. */
export const XML_TYPES = ['application/xml', 'text/xml', 'application/*+xml'];

export function sdiRoutes(router: Router, ctx: AppContext): void {
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

  router.post('/sdi/notifications', async (req, res) => {
    if (req.is(XML_TYPES)) return acceptReceipt(req, res);
    const { principal } = res.locals;
    const notification = parseBody(sdiNotificationSchema, req.body);
    requireCustomer(principal, notification.customerId);
    accepted(res, await enqueue(principal, notification));
  });

  router.get('/sdi/notifications/:id', async (req, res) => {
    const { principal } = res.locals;
    const stored = await findVisibleNotification(ctx.db, principal, req.params.id);
    if (stored) {
      res.json(stored);
      return;
    }
    const job = await ctx.queues.getJob('invoice-save', jobIds.sdiNotification(req.params.id));
    if (!job || job.name !== 'sdi-notification') throw notFound('notification');
    const { notification, acceptedAt, submittedBy } = job.data as { notification: { customerId: string }; acceptedAt: string; submittedBy: string };
    if (!canAccessCustomer(principal, notification.customerId)) throw notFound('notification');
    res.json({ id: req.params.id, ...notification, outcome: 'pending', receivedAt: acceptedAt, receivedBy: actors.user(submittedBy) });
  });

  router.get('/sdi/receipts/:id', async (req, res) => {
    const receipt = await findVisibleReceipt(ctx.db, res.locals.principal, req.params.id);
    if (!receipt) throw notFound('receipt');
    res.json(receipt);
  });

}
