// Invoice persistence: insert with lines and first event, conditional status moves, reads and scoped lists.
import type { Knex } from 'knex';
import type { Actor } from '../access/actors.js';
import { scopeToCustomers, type Principal } from '../access/principal.js';
import { nowIso, toIso, toNumber } from '../platform/db.js';
import { isUniqueViolation } from '../platform/errors/unique-violation.js';
import { keysetPage, toPage, type Page, type PageArgs } from '../platform/pagination.js';
import { invoiceFromDocument, type Invoice, type InvoiceEvent, type InvoiceKind, type InvoiceLine, type NewInvoice } from './invoice.js';
import { canTransition, type InvoiceStatus, type PaymentStatus } from './status.js';

type Row = Record<string, unknown>;

const parseJson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : (v ?? null));

function toInvoice(row: Row): Invoice {
  return {
    id: String(row.id),
    kind: row.kind as InvoiceKind,
    customerId: String(row.customer_id),
    number: String(row.number),
    issueDate: String(row.issue_date),
    dueDate: (row.due_date as string | null) ?? null,
    currency: String(row.currency),
    taxableCents: toNumber(row.taxable_cents),
    vatCents: toNumber(row.vat_cents),
    totalCents: toNumber(row.total_cents),
    status: row.status as InvoiceStatus,
    paymentStatus: (row.payment_status as PaymentStatus | null) ?? null,
    paymentFailureReason: (row.payment_failure_reason as string | null) ?? null,
    dunningStep: row.dunning_step == null ? 0 : toNumber(row.dunning_step),
    nextChargeAt: row.next_charge_at == null ? null : toIso(row.next_charge_at),
    billingRunId: (row.billing_run_id as string | null) ?? null,
    callbackUrl: (row.callback_url as string | null) ?? null,
    supplier: parseJson(row.supplier) as Invoice['supplier'],
    createdAt: toIso(row.created_at),
    createdBy: String(row.created_by),
    updatedAt: toIso(row.updated_at),
    updatedBy: String(row.updated_by),
  };
}

export async function insertNewInvoice(db: Knex, accepted: NewInvoice): Promise<boolean> {
  const { invoice: i, lines } = invoiceFromDocument(accepted);
  try {
    await db.transaction(async (trx) => {
      await trx('invoices').insert({
        id: i.id,
        kind: i.kind,
        customer_id: i.customerId,
        number: i.number,
        issue_date: i.issueDate,
        due_date: i.dueDate,
        currency: i.currency,
        taxable_cents: i.taxableCents,
        vat_cents: i.vatCents,
        total_cents: i.totalCents,
        status: i.status,
        payment_status: i.paymentStatus,
        callback_url: i.callbackUrl,
        supplier: i.supplier ? JSON.stringify(i.supplier) : null,
        created_at: i.createdAt,
        created_by: i.createdBy,
        updated_at: i.updatedAt,
        updated_by: i.updatedBy,
      });
      const rows = lines.map((l) => ({
        invoice_id: i.id,
        line_number: l.lineNumber,
        description: l.description,
        quantity: l.quantity,
        unit_price: l.unitPrice,
        vat_rate: l.vatRate,
        natura: l.natura,
        total_cents: l.totalCents,
      }));
      // Chunked: SQLite and PostgreSQL cap the number of bound parameters per statement.
      for (let n = 0; n < rows.length; n += 250) await trx('invoice_lines').insert(rows.slice(n, n + 250));
      await trx('invoice_events').insert({
        invoice_id: i.id,
        from_status: null,
        to_status: i.status,
        at: i.createdAt,
        actor: i.createdBy,
        details: null,
      });
    });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

export type TransitionResult =
  | { moved: true; from: InvoiceStatus }
  | { moved: false; reason: 'not_found' | 'already' | 'not_allowed'; status?: InvoiceStatus };

export interface TransitionOptions {
  actor: Actor;
  details?: unknown;
  /** Other columns set in the same update, e.g. the payment status an invoice starts with. */
  set?: Record<string, unknown>;
}

/** The payment status columns of an invoice that will never be charged: PENDING becomes VOID; a settled one keeps its record. */
export function voidUnlessSettled(db: Knex): Record<string, unknown> {
  return { payment_status: db.raw("case when payment_status = 'PENDING' then 'VOID' else payment_status end"), next_charge_at: null };
}

/**
 * Moves an invoice to `to` if the status machine allows it from where it is, recording the event.
 * A compare-and-set on the current status, so two workers can never both make the same move.
 */
export async function transitionInvoice(db: Knex, id: string, to: InvoiceStatus, opts: TransitionOptions): Promise<TransitionResult> {
  for (;;) {
    const row = await db('invoices').first('status').where({ id });
    if (!row) return { moved: false, reason: 'not_found' };
    const from = row.status as InvoiceStatus;
    if (from === to) return { moved: false, reason: 'already', status: from };
    if (!canTransition(from, to)) return { moved: false, reason: 'not_allowed', status: from };
    const at = nowIso();
    // The transaction opens with the write, so SQLite takes its write lock first and waits on busy_timeout.
    const moved = await db.transaction(async (trx) => {
      const updated = await trx('invoices')
        .where({ id, status: from })
        .update({ ...opts.set, status: to, updated_at: at, updated_by: opts.actor });
      if (updated !== 1) return false;
      await trx('invoice_events').insert({
        invoice_id: id,
        from_status: from,
        to_status: to,
        at,
        actor: opts.actor,
        details: opts.details === undefined ? null : JSON.stringify(opts.details),
      });
      return true;
    });
    if (moved) return { moved: true, from };
    // Someone else moved it between our read and our write: look again.
  }
}

export async function findInvoice(db: Knex, id: string): Promise<Invoice | undefined> {
  const row = await db('invoices').first('*').where({ id });
  return row ? toInvoice(row) : undefined;
}

/** Several invoices in one query, in the order of `ids` (undefined where there is none). */
export async function findInvoices(db: Knex, ids: string[]): Promise<(Invoice | undefined)[]> {
  const rows: Row[] = await db('invoices').select('*').whereIn('id', [...new Set(ids)]);
  const byId = new Map(rows.map((row) => [String(row.id), toInvoice(row)]));
  return ids.map((id) => byId.get(id));
}

export async function findInvoiceByNumber(db: Knex, kind: InvoiceKind, customerId: string, number: string): Promise<Invoice | undefined> {
  const row = await db('invoices').first('*').where({ kind, customer_id: customerId, number });
  return row ? toInvoice(row) : undefined;
}

export async function listInvoiceLines(db: Knex, invoiceId: string): Promise<InvoiceLine[]> {
  const rows: Row[] = await db('invoice_lines').select('*').where({ invoice_id: invoiceId }).orderBy('line_number');
  return rows.map((r) => ({
    lineNumber: toNumber(r.line_number),
    description: String(r.description),
    quantity: String(r.quantity),
    unitPrice: String(r.unit_price),
    vatRate: String(r.vat_rate),
    natura: (r.natura as string | null) ?? null,
    totalCents: toNumber(r.total_cents),
  }));
}

export async function listInvoiceEvents(db: Knex, invoiceId: string): Promise<InvoiceEvent[]> {
  const rows: Row[] = await db('invoice_events').select('*').where({ invoice_id: invoiceId }).orderBy('id');
  return rows.map((r) => ({
    from: (r.from_status as InvoiceStatus | null) ?? null,
    to: r.to_status as InvoiceStatus,
    at: toIso(r.at),
    actor: String(r.actor),
    details: parseJson(r.details),
  }));
}

export interface InvoiceFilters {
  status?: InvoiceStatus;
  paymentStatus?: PaymentStatus;
  customerId?: string;
  /** Issue date from (inclusive), YYYY-MM-DD. */
  from?: string;
  /** Issue date to (inclusive), YYYY-MM-DD. */
  to?: string;
}

export async function listInvoices(
  db: Knex,
  principal: Principal,
  filters: InvoiceFilters,
  page: PageArgs,
): Promise<Page<Invoice>> {
  const query = db('invoices').select('invoices.*');
  scopeToCustomers(query, db, principal, 'invoices.customer_id');
  if (filters.status) query.where('invoices.status', filters.status);
  if (filters.paymentStatus) query.where('invoices.payment_status', filters.paymentStatus);
  if (filters.customerId) query.where('invoices.customer_id', filters.customerId);
  if (filters.from) query.where('invoices.issue_date', '>=', filters.from);
  if (filters.to) query.where('invoices.issue_date', '<=', filters.to);
  const rows: Row[] = await keysetPage(query, 'invoices', page.limit, page.after);
  return toPage(rows.map(toInvoice), page.limit);
}

/** The public JSON shape of an invoice. */

/** A page of the ids of invoices in `status`, by id after `afterId`: what the sweep walks to find work whose job is gone. */
export async function invoiceIdsInStatus(db: Knex, status: InvoiceStatus, afterId: string | null, limit: number): Promise<string[]> {
  const query = db('invoices').select('id').where({ status }).orderBy('id').limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Record<string, unknown>) => String(r.id));
}
