// Callback messages: one row per event to tell a client, one row per delivery attempt, and the enqueue that links them; knows no resource's kind.
import type { Knex } from 'knex';
import { nowIso, toIso, toNumber } from '../platform/db.js';
import { stableId } from '../platform/ids.js';
import type { CallbackOutcome } from './outcome.js';

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
  outcome: CallbackOutcome;
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

/** An event to tell a client about a resource: what every capability hands to {@link enqueueCallback}. */
export interface CallbackEvent {
  /** Whose secret signs it: the user who gave the callback URL. */
  userId: string;
  url: string;
  /** The event's name, e.g. `invoice.status`: the body's `type`. */
  type: string;
  /** The body's `data`. */
  data: unknown;
  /** The resource it is about; GET on the resource shows its callbacks. */
  resource: { type: string; id: string };
  /** What makes this event unique for its resource, e.g. the status it reports: a repeat of it is the same message. */
  eventKey: string;
}

/** The delivery job of a message: one per message, whoever enqueues it, however often. */
export const deliveryJobId = (messageId: string): string => `callback-${messageId}`;

/** What enqueueing a delivery needs of the queues: the one job it adds. Every process's queues (queues/producer.ts) provide it. */
export interface DeliveryQueue {
  add(queue: 'callback', name: 'deliver', data: { messageId: string }, opts: { jobId: string }): Promise<unknown>;
}

/** One message per event: the webhook-id a client deduplicates on. */
const messageId = (event: CallbackEvent): string =>
  `msg_${stableId('callback', event.resource.type, event.resource.id, event.eventKey).replaceAll('-', '')}`;

/**
 * Records the message and enqueues its delivery. The message id derives from the event, so calling this
 * again for the same event (a retried job) neither stores nor sends a second message.
 */
export async function enqueueCallback(ctx: { db: Knex; queues: DeliveryQueue }, event: CallbackEvent): Promise<string> {
  const id = await recordCallback(ctx.db, event);
  await enqueueDelivery(ctx.queues, id);
  return id;
}

/** Queues the delivery of a recorded message; its job id makes a second call for one message harmless. */
export async function enqueueDelivery(queues: DeliveryQueue, id: string): Promise<void> {
  await queues.add('callback', 'deliver', { messageId: id }, { jobId: deliveryJobId(id) });
}

/**
 * Records the message only, once per event: within the transaction of the change it reports, so the change and
 * its message are written together, and a crash before {@link enqueueDelivery} leaves a pending message the
 * maintenance sweep delivers.
 */
export async function recordCallback(db: Knex, event: CallbackEvent): Promise<string> {
  const id = messageId(event);
  const at = nowIso();
  await db('callback_messages')
    .insert({
      id,
      user_id: event.userId,
      url: event.url,
      event_type: event.type,
      payload: JSON.stringify({ type: event.type, data: event.data }),
      subject_type: event.resource.type,
      subject_id: event.resource.id,
      status: 'pending',
      attempts: 0,
      created_at: at,
      updated_at: at,
    })
    .onConflict('id')
    .ignore();
  return id;
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

/** Every message about a resource with its attempts, oldest first: what GET on the resource shows. */
export async function listCallbacks(db: Knex, resource: { type: string; id: string }) {
  const messages: Row[] = await db('callback_messages').select('*').where({ subject_type: resource.type, subject_id: resource.id }).orderBy('created_at');
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

/** A page of the ids of messages still to deliver, by id after `afterId`: the sweep queues each delivery again. */
export async function pendingMessageIds(db: Knex, afterId: string | null, limit: number): Promise<string[]> {
  const query = db('callback_messages').select('id').where({ status: 'pending' }).orderBy('id').limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Record<string, unknown>) => String(r.id));
}

/** The ids of a resource's messages still to deliver: what a job that finds its work done re-queues, should its first run have died before queueing them. */
export async function pendingMessageIdsAbout(db: Knex, resource: { type: string; id: string }): Promise<string[]> {
  const rows: Row[] = await db('callback_messages').select('id').where({ subject_type: resource.type, subject_id: resource.id, status: 'pending' }).orderBy('id');
  return rows.map((r) => String(r.id));
}
