// SdI receipts as received in XML: each one that names an invoice its sender may see is kept with what became of it (accepted, invalid).
import type { Knex } from 'knex';
import type { Actor } from '../access/actors.js';
import { canAccessCustomer, isOperator, type Principal } from '../access/principal.js';
import { nowIso, toIso } from '../platform/db.js';
import { newId } from '../platform/ids.js';

/** `unmatched` is only on rows kept before a receipt had to name a visible invoice to be kept at all. */
export type ReceiptOutcome = 'accepted' | 'invalid' | 'unmatched';

export interface StoredReceipt {
  id: string;
  messageType: string | null;
  fileName: string | null;
  sdiIdentifier: string | null;
  sdiMessageId: string | null;
  invoiceId: string | null;
  notificationId: string | null;
  outcome: ReceiptOutcome;
  reason: string | null;
  receivedAt: string;
  receivedBy: string;
}

export interface NewReceipt {
  messageType?: string;
  fileName?: string;
  sdiIdentifier?: string;
  sdiMessageId?: string;
  /** Required: a receipt is kept only once it is tied to an invoice its sender may see, so nobody fills the table for free. */
  invoiceId: string;
  notificationId?: string;
  outcome: Exclude<ReceiptOutcome, 'unmatched'>;
  reason?: string;
  body: string;
  receivedBy: Actor;
}

type Row = Record<string, unknown>;

const toReceipt = (r: Row): StoredReceipt => ({
  id: String(r.id),
  messageType: (r.message_type as string | null) ?? null,
  fileName: (r.file_name as string | null) ?? null,
  sdiIdentifier: (r.sdi_identifier as string | null) ?? null,
  sdiMessageId: (r.sdi_message_id as string | null) ?? null,
  invoiceId: (r.invoice_id as string | null) ?? null,
  notificationId: (r.notification_id as string | null) ?? null,
  outcome: r.outcome as ReceiptOutcome,
  reason: (r.reason as string | null) ?? null,
  receivedAt: toIso(r.received_at),
  receivedBy: String(r.received_by),
});

// Column widths of the table: a hostile or broken receipt must still be recordable.
const cut = (s: string | undefined, n: number) => (s === undefined ? null : s.slice(0, n));

export async function recordReceipt(db: Knex, r: NewReceipt): Promise<string> {
  const id = newId();
  await db('sdi_receipts').insert({
    id,
    message_type: cut(r.messageType, 40),
    file_name: cut(r.fileName, 50),
    sdi_identifier: cut(r.sdiIdentifier, 20),
    sdi_message_id: cut(r.sdiMessageId, 20),
    invoice_id: r.invoiceId,
    notification_id: r.notificationId ?? null,
    outcome: r.outcome,
    reason: r.reason ?? null,
    body: r.body,
    received_at: nowIso(),
    received_by: r.receivedBy,
  });
  return id;
}

/** The invoice sent to the SdI under a file name, in one query whether the file is unknown or not: what a receipt is matched by. */
export async function findInvoiceSentAs(db: Knex, fileName: string): Promise<{ invoiceId: string; customerId: string; number: string } | undefined> {
  const row: Row | undefined = await db('sdi_files')
    .join('invoices', 'invoices.id', 'sdi_files.invoice_id')
    .first('invoices.id', 'invoices.customer_id', 'invoices.number')
    .where('sdi_files.file_name', fileName);
  return row ? { invoiceId: String(row.id), customerId: String(row.customer_id), number: String(row.number) } : undefined;
}

/** A receipt the principal may see: one matched to an invoice of its customers, or any for an operator. */
export async function findVisibleReceipt(db: Knex, principal: Principal, id: string): Promise<StoredReceipt | undefined> {
  const row: Row | undefined = await db('sdi_receipts')
    .leftJoin('invoices', 'invoices.id', 'sdi_receipts.invoice_id')
    .first('sdi_receipts.*', 'invoices.customer_id')
    .where('sdi_receipts.id', id);
  if (!row) return undefined;
  const customerId = row.customer_id as string | null;
  if (!isOperator(principal) && !(customerId && canAccessCustomer(principal, customerId))) return undefined;
  return toReceipt(row);
}
