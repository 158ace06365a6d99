// The mails owed to customers: one row per notice, recorded before it is sent, and what became of its sending.
import type { Knex } from 'knex';
import { nowIso, toIso, toNumber } from '../platform/db.js';
import { stableId } from '../platform/ids.js';

export type MailKind = 'order-failed';

export type MailStatus = 'pending' | 'sent' | 'failed';

/** What the order-failed notice tells the customer. */
export interface OrderFailedNotice {
  orderId: string;
  customerId: string;
  customerName: string;
  /** Decimal, two places: `"12.50"`. */
  amount: string;
  currency: string;
  /** Why the order failed, in words a customer reads, e.g. `insufficient balance`. */
  reason: string;
}

export interface NewMail {
  kind: MailKind;
  /** The customer's email address. */
  to: string;
  /** What the mail is about, e.g. `{ type: 'order', id }`: GET on it lists its mails. */
  subject: { type: string; id: string };
  data: OrderFailedNotice;
}

export interface Mail extends NewMail {
  id: string;
  status: MailStatus;
  /** SMTP tries made so far, the successful one included. */
  attempts: number;
  lastError: string | null;
  smtpMessageId: string | null;
  smtpResponse: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

/** What GET on the subject shows of a mail: never its data (the notice's text is the customer's business). */
export interface MailView {
  id: string;
  kind: MailKind;
  to: string;
  status: MailStatus;
  attempts: number;
  lastError: string | null;
  sentAt: string | null;
  createdAt: string;
}

type Row = Record<string, unknown>;

const toMail = (r: Row): Mail => ({
  id: String(r.id),
  kind: r.kind as MailKind,
  to: String(r.to_address),
  subject: { type: String(r.subject_type), id: String(r.subject_id) },
  data: JSON.parse(String(r.data)) as OrderFailedNotice,
  status: r.status as MailStatus,
  attempts: toNumber(r.attempts),
  lastError: (r.last_error as string | null) ?? null,
  smtpMessageId: (r.smtp_message_id as string | null) ?? null,
  smtpResponse: (r.smtp_response as string | null) ?? null,
  createdAt: toIso(r.created_at),
  updatedAt: toIso(r.updated_at),
  sentAt: r.sent_at == null ? null : toIso(r.sent_at),
});

/** One notice of a kind per subject, whoever records it and however often: the saga's retries land on the same row. */
export const mailIdFor = (kind: MailKind, subject: { type: string; id: string }): string => stableId('mail', kind, subject.type, subject.id);

/** Error texts are kept short: a server's answer can be long, and the row is read on every GET of its subject. */
const clip = (text: string): string => text.slice(0, 1000);

/**
 * Records the mail as pending unless it is recorded already, and returns its id; the caller enqueues `mail/send` with
 * `jobIds.mail(id)`. `db` may be a transaction, so a mail is owed exactly when the change that owes it commits.
 */
export async function recordMail(db: Knex, mail: NewMail): Promise<string> {
  const id = mailIdFor(mail.kind, mail.subject);
  const at = nowIso();
  await db('mails')
    .insert({
      id,
      kind: mail.kind,
      to_address: mail.to,
      subject_type: mail.subject.type,
      subject_id: mail.subject.id,
      data: JSON.stringify(mail.data),
      status: 'pending',
      attempts: 0,
      created_at: at,
      updated_at: at,
    })
    .onConflict('id')
    .ignore();
  return id;
}

export async function findMail(db: Knex, id: string): Promise<Mail | undefined> {
  const row = await db('mails').first('*').where({ id });
  return row ? toMail(row) : undefined;
}

/**
 * Records that the SMTP server took the mail. Unless it is recorded sent already (the first acceptance stands), a
 * failed mail too: an operator's retry from the DLQ that gets through must not leave the row saying failed.
 */
export async function markMailSent(db: Knex, id: string, smtp: { messageId: string; response: string }): Promise<void> {
  await db('mails')
    .where({ id })
    .whereNot({ status: 'sent' })
    .update({
      status: 'sent',
      attempts: db.raw('attempts + 1'),
      last_error: null,
      smtp_message_id: smtp.messageId,
      smtp_response: clip(smtp.response),
      sent_at: nowIso(),
      updated_at: nowIso(),
    });
}

/** Counts one failed try and keeps why, so GET shows a mail that is being retried and the reason. */
export async function recordMailAttempt(db: Knex, id: string, error: string): Promise<void> {
  await db('mails')
    .where({ id })
    .whereNot({ status: 'sent' })
    .update({ attempts: db.raw('attempts + 1'), last_error: clip(error), updated_at: nowIso() });
}

/** Gives the mail up with the reason, unless it was sent meanwhile. */
export async function markMailFailed(db: Knex, id: string, reason: string): Promise<void> {
  await db('mails').where({ id }).whereNot({ status: 'sent' }).update({ status: 'failed', last_error: clip(reason), updated_at: nowIso() });
}

/** A page of the ids of mails still to send, by id after `afterId`: the sweep queues each again. Failed ones wait in the DLQ. */
export async function pendingMailIds(db: Knex, afterId: string | null, limit: number): Promise<string[]> {
  const query = db('mails').select('id').where({ status: 'pending' }).orderBy('id').limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Row) => String(r.id));
}

/** Every mail about a subject, oldest first, as GET on the subject shows it. */
export async function listMails(db: Knex, subject: { type: string; id: string }): Promise<MailView[]> {
  const rows: Row[] = await db('mails').select('*').where({ subject_type: subject.type, subject_id: subject.id }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(toMail).map((m) => ({
    id: m.id,
    kind: m.kind,
    to: m.to,
    status: m.status,
    attempts: m.attempts,
    lastError: m.lastError,
    sentAt: m.sentAt,
    createdAt: m.createdAt,
  }));
}
