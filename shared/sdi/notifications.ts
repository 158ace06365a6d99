// SdI notifications: the document that carries the SdI's verdict, and each one as received, settled as applied or invalid.
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Actor } from '../access/actors.js';
import { scopeToCustomers, type Principal } from '../access/principal.js';
import type { InvoiceStatus } from '../invoices/status.js';
import { nowIso, toIso } from '../platform/db.js';
import { stableId } from '../platform/ids.js';
import { resourceId, safeText } from '../platform/input.js';

/** The SdI outcomes a notification may carry, by name or by SdI message code. */
export const SDI_OUTCOME_ALIASES = {
  DELIVERED: 'DELIVERED',
  RC: 'DELIVERED',
  DISCARDED: 'DISCARDED',
  NS: 'DISCARDED',
  NOT_DELIVERED: 'NOT_DELIVERED',
  MC: 'NOT_DELIVERED',
} as const;

export type SdiOutcome = (typeof SDI_OUTCOME_ALIASES)[keyof typeof SDI_OUTCOME_ALIASES];

/** A notification as a client posts it (or the API builds it from an SdI receipt); unknown fields are refused. */
export const sdiNotificationSchema = z.strictObject({
  customerId: resourceId(64),
  invoiceNumber: safeText(20).min(1),
  status: z
    .enum(Object.keys(SDI_OUTCOME_ALIASES) as [keyof typeof SDI_OUTCOME_ALIASES, ...(keyof typeof SDI_OUTCOME_ALIASES)[]])
    .transform((s): SdiOutcome => SDI_OUTCOME_ALIASES[s]),
  errors: z
    .array(z.strictObject({ code: safeText(20), description: safeText(1000).optional() }))
    .max(100)
    .optional(),
});

export type SdiNotification = z.output<typeof sdiNotificationSchema>;

/** The SdI outcome of a notification, as an invoice status. */
export const SDI_OUTCOME_STATUS = {
  DELIVERED: 'INTERNAL_INVOICE_DELIVERED',
  DISCARDED: 'INTERNAL_INVOICE_DISCARDED',
  NOT_DELIVERED: 'INTERNAL_INVOICE_NOT_DELIVERED',
} as const satisfies Record<string, InvoiceStatus>;


/** One id per notified outcome, so the SdI repeating itself is recorded once. */
export const sdiNotificationId = (customerId: string, invoiceNumber: string, status: string): string =>
  stableId('sdi-notification', customerId, invoiceNumber, status);

export type NotificationOutcome = 'pending' | 'applied' | 'invalid';

export interface StoredNotification extends SdiNotification {
  id: string;
  invoiceId: string | null;
  outcome: NotificationOutcome;
  reason: string | null;
  receivedAt: string;
  receivedBy: string;
  processedAt: string | null;
}

type Row = Record<string, unknown>;

const toNotification = (r: Row): StoredNotification => ({
  id: String(r.id),
  customerId: String(r.customer_id),
  invoiceNumber: String(r.invoice_number),
  status: r.status as SdiNotification['status'],
  errors: r.errors ? (JSON.parse(String(r.errors)) as SdiNotification['errors']) : undefined,
  invoiceId: (r.invoice_id as string | null) ?? null,
  outcome: r.outcome as NotificationOutcome,
  reason: (r.reason as string | null) ?? null,
  receivedAt: toIso(r.received_at),
  receivedBy: String(r.received_by),
  processedAt: r.processed_at == null ? null : toIso(r.processed_at),
});

/** Records a notification as pending; a repeat of the same one changes nothing. */
export async function recordNotification(db: Knex, id: string, n: SdiNotification, receivedAt: string, receivedBy: Actor): Promise<StoredNotification> {
  await db('sdi_notifications')
    .insert({
      id,
      customer_id: n.customerId,
      invoice_number: n.invoiceNumber,
      status: n.status,
      errors: n.errors ? JSON.stringify(n.errors) : null,
      outcome: 'pending',
      received_at: receivedAt,
      received_by: receivedBy,
    })
    .onConflict('id')
    .ignore();
  return (await findNotification(db, id))!;
}

/** Settles a pending notification; a settled one stays as it is. */
export async function settleNotification(db: Knex, id: string, outcome: Exclude<NotificationOutcome, 'pending'>, fields: { invoiceId?: string; reason?: string }): Promise<void> {
  await db('sdi_notifications')
    .where({ id, outcome: 'pending' })
    .update({ outcome, invoice_id: fields.invoiceId ?? null, reason: fields.reason ?? null, processed_at: nowIso() });
}

export async function findNotification(db: Knex, id: string): Promise<StoredNotification | undefined> {
  const row = await db('sdi_notifications').first('*').where({ id });
  return row ? toNotification(row) : undefined;
}

export async function findVisibleNotification(db: Knex, principal: Principal, id: string): Promise<StoredNotification | undefined> {
  const row = await scopeToCustomers(db('sdi_notifications').first('*').where('sdi_notifications.id', id), db, principal, 'sdi_notifications.customer_id');
  return row ? toNotification(row) : undefined;
}

/** A page of the notifications not applied yet, by id after `afterId`: the sweep queues each again. */
export async function pendingNotifications(db: Knex, afterId: string | null, limit: number): Promise<StoredNotification[]> {
  const query = db('sdi_notifications').select('*').where({ outcome: 'pending' }).orderBy('id').limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map(toNotification);
}
