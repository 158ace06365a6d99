// Callback messages: one row per event to tell a client, one row per delivery attempt, and the enqueue that links them.
import type { Knex } from 'knex';
import { jobIds } from '../../queues/jobs.js';
import type { Queues } from '../../queues/producer.js';
import { nowIso, toIso, toNumber } from '../platform/db.js';
import { callbackMessageId } from '../platform/ids.js';
import { isNotifiedStatus } from '../invoices/status.js';
import type { Invoice } from '../invoices/store.js';
import { formatCents } from '../platform/money.js';
import type { Payment } from '../billing/payments.js';

export type MessageStatus = 'pending' | 'delivered' | 'failed' | 'gone';

export interface CallbackMessage {
  id: string;
  userId: string;
  url: string;
  eventType: string;
  payload: string;
  subjectType: string;
  subjectId: string;
  status: MessageStatus;
  attempts: number;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryAttempt {
  attempt: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  outcome: 'delivered' | 'retry' | 'failed' | 'gone';
}

type Row = Record<string, unknown>;

const toMessage = (r: Row): CallbackMessage => ({
  id: String(r.id),
  userId: String(r.user_id),
  url: String(r.url),
  eventType: String(r.event_type),
  payload: String(r.payload),
  subjectType: String(r.subject_type),
  subjectId: String(r.subject_id),
  status: r.status as MessageStatus,
  attempts: toNumber(r.attempts),
  createdAt: toIso(r.created_at),
  updatedAt: toIso(r.updated_at),
});

const toAttempt = (r: Row): DeliveryAttempt => ({
  attempt: toNumber(r.attempt),
  startedAt: toIso(r.started_at),
  durationMs: toNumber(r.duration_ms),
  statusCode: r.status_code == null ? null : toNumber(r.status_code),
  error: (r.error as string | null) ?? null,
  outcome: r.outcome as DeliveryAttempt['outcome'],
});

export interface NewCallback {
  userId: string;
  url: string;
  type: string;
  data: unknown;
  subjectType: string;
  subjectId: string;
  /** What makes this event unique for its subject, e.g. the status it reports. */
  eventKey: string;
}

/**
 * Records the message and enqueues its delivery. The message id derives from the event, so calling this
 * again for the same event (a retried job) neither stores nor sends a second message.
 */
export async function enqueueCallback(ctx: { db: Knex; queues: Queues }, callback: NewCallback): Promise<string> {
  const id = callbackMessageId(callback.subjectType, callback.subjectId, callback.eventKey);
  const at = nowIso();
  await ctx.db('callback_messages')
    .insert({
      id,
      user_id: callback.userId,
      url: callback.url,
      event_type: callback.type,
      payload: JSON.stringify({ type: callback.type, data: callback.data }),
      subject_type: callback.subjectType,
      subject_id: callback.subjectId,
      status: 'pending',
      attempts: 0,
      created_at: at,
      updated_at: at,
    })
    .onConflict('id')
    .ignore();
  await ctx.queues.add('callback', 'deliver', { messageId: id }, { jobId: jobIds.callback(id) });
  return id;
}

/** Actors are stored as `user:<id>`; callbacks are signed with that user's secret. */
export function userIdOfActor(actor: string): string | undefined {
  return actor.startsWith('user:') ? actor.slice('user:'.length) : undefined;
}

/** Tells the submitting client the invoice's current status, if it gave a callback URL. */
export async function notifyInvoiceStatus(ctx: { db: Knex; queues: Queues }, invoice: Invoice): Promise<void> {
  const userId = userIdOfActor(invoice.createdBy);
  if (!invoice.callbackUrl || !userId || !isNotifiedStatus(invoice.status)) return;
  await enqueueCallback(ctx, {
    userId,
    url: invoice.callbackUrl,
    type: 'invoice.status',
    data: {
      id: invoice.id,
      kind: invoice.kind,
      number: invoice.number,
      customerId: invoice.customerId,
      status: invoice.status,
      paymentStatus: invoice.paymentStatus,
      updatedAt: invoice.updatedAt,
    },
    subjectType: 'invoice',
    subjectId: invoice.id,
    eventKey: invoice.status,
  });
}

/** Tells the submitting client what a charge of its invoice came to: one message per charge attempt. */
export async function notifyInvoicePayment(ctx: { db: Knex; queues: Queues }, invoice: Invoice, payment: Payment): Promise<void> {
  const userId = userIdOfActor(invoice.createdBy);
  if (!invoice.callbackUrl || !userId) return;
  await enqueueCallback(ctx, {
    userId,
    url: invoice.callbackUrl,
    type: 'invoice.payment',
    data: {
      id: invoice.id,
      number: invoice.number,
      customerId: invoice.customerId,
      paymentStatus: invoice.paymentStatus,
      nextChargeAt: invoice.nextChargeAt,
      payment: { id: payment.id, paymentRefId: payment.paymentRefId, status: payment.status, amount: formatCents(payment.amountCents), currency: payment.currency, reason: payment.reason },
    },
    subjectType: 'invoice',
    subjectId: invoice.id,
    eventKey: `payment-${payment.idempotencyKey}`,
  });
}

export async function findMessage(db: Knex, id: string): Promise<CallbackMessage | undefined> {
  const row = await db('callback_messages').first('*').where({ id });
  return row ? toMessage(row) : undefined;
}

export async function recordAttempt(db: Knex, messageId: string, attempt: DeliveryAttempt, settled?: MessageStatus): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('callback_deliveries').insert({
      message_id: messageId,
      attempt: attempt.attempt,
      started_at: attempt.startedAt,
      duration_ms: attempt.durationMs,
      status_code: attempt.statusCode,
      error: attempt.error,
      outcome: attempt.outcome,
    });
    await trx('callback_messages')
      .where({ id: messageId })
      .update({ attempts: attempt.attempt, updated_at: nowIso(), ...(settled ? { status: settled } : {}) });
  });
}

/** Marks a message given up, unless it was delivered meanwhile. */
export async function markMessageFailed(db: Knex, messageId: string): Promise<void> {
  await db('callback_messages').where({ id: messageId, status: 'pending' }).update({ status: 'failed', updated_at: nowIso() });
}

/** Every message about a subject with its attempts, oldest first: what GET on the subject shows. */
export async function listCallbacks(db: Knex, subjectType: string, subjectId: string) {
  const messages: Row[] = await db('callback_messages').select('*').where({ subject_type: subjectType, subject_id: subjectId }).orderBy('created_at');
  if (messages.length === 0) return [];
  const attempts: Row[] = await db('callback_deliveries')
    .select('*')
    .whereIn('message_id', messages.map((m) => String(m.id)))
    .orderBy('id');
  return messages.map(toMessage).map(({ payload, userId: _userId, ...message }) => ({
    ...message,
    body: JSON.parse(payload) as unknown,
    deliveries: attempts.filter((a) => a.message_id === message.id).map(toAttempt),
  }));
}
