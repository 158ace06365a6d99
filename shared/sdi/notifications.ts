// SdI notifications as received: recorded first, then settled as applied to an invoice or invalid with a reason.
import type { Knex } from 'knex';
import { nowIso, toIso } from '../platform/db.js';
import type { SdiNotification } from '../invoices/document.js';
import { scopeToCustomers, type Principal } from '../access/principal.js';

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
export async function recordNotification(db: Knex, id: string, n: SdiNotification, receivedAt: string, receivedBy: string): Promise<StoredNotification> {
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
