// What an invoice is: its shape, the id it is stored under, what an accepted document becomes, and its public JSON.
import { actors, type Actor } from '../access/actors.js';
import { stableId } from '../platform/ids.js';
import { computeTotals, formatCents } from '../platform/money.js';
import type { ExternalInvoiceDocument, InvoiceDocument } from './document.js';
import type { InvoiceStatus, PaymentStatus } from './status.js';

export type InvoiceKind = 'internal' | 'external';

export interface Invoice {
  id: string;
  kind: InvoiceKind;
  customerId: string;
  number: string;
  issueDate: string;
  dueDate: string | null;
  currency: string;
  taxableCents: number;
  vatCents: number;
  totalCents: number;
  status: InvoiceStatus;
  paymentStatus: PaymentStatus | null;
  paymentFailureReason: string | null;
  /** How many charge attempts were declined for the balance; the next attempt's number. */
  dunningStep: number;
  /** When the next dunning attempt is due, while one is scheduled. */
  nextChargeAt: string | null;
  /** The billing run that took the invoice for charging. */
  billingRunId: string | null;
  callbackUrl: string | null;
  supplier: ExternalInvoiceDocument['supplier'] | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

export interface InvoiceLine {
  lineNumber: number;
  description: string;
  quantity: string;
  unitPrice: string;
  vatRate: string;
  natura: string | null;
  totalCents: number;
}

export interface InvoiceEvent {
  from: InvoiceStatus | null;
  to: InvoiceStatus;
  at: string;
  actor: string;
  details: unknown;
}

/** The same kind, customer and number always give the same invoice id: resubmissions cannot create twins. */
export function invoiceId(kind: InvoiceKind, customerId: string, number: string): string {
  return stableId('invoice', kind, customerId, number);
}

export interface NewInvoice {
  id: string;
  kind: InvoiceKind;
  document: InvoiceDocument | ExternalInvoiceDocument;
  acceptedAt: string;
  submittedBy: string;
}

/** The invoice an accepted document becomes, with its lines: what is inserted, and what GET shows until then. */
export function invoiceFromDocument({ id, kind, document: doc, acceptedAt, submittedBy }: NewInvoice): { invoice: Invoice; lines: InvoiceLine[] } {
  const totals = computeTotals(doc.lines);
  const actor: Actor = actors.user(submittedBy);
  const invoice: Invoice = {
    id,
    kind,
    customerId: doc.customerId,
    number: doc.number,
    issueDate: doc.issueDate,
    dueDate: doc.dueDate ?? null,
    currency: doc.currency,
    taxableCents: totals.taxableCents,
    vatCents: totals.vatCents,
    totalCents: totals.totalCents,
    status: 'INTERNAL_INVOICE_NEW',
    paymentStatus: null,
    paymentFailureReason: null,
    dunningStep: 0,
    nextChargeAt: null,
    billingRunId: null,
    callbackUrl: doc.callbackUrl ?? null,
    supplier: ('supplier' in doc && doc.supplier) || null,
    createdAt: acceptedAt,
    createdBy: actor,
    updatedAt: acceptedAt,
    updatedBy: actor,
  };
  const lines = doc.lines.map((line, i) => ({
    lineNumber: i + 1,
    description: line.description,
    quantity: line.quantity,
    unitPrice: line.unitPrice,
    vatRate: line.vatRate,
    natura: line.natura ?? null,
    totalCents: totals.lineCents[i] ?? 0,
  }));
  return { invoice, lines };
}

/**
 * Inserts an accepted invoice as NEW with its lines and first event, in one transaction.
 * Returns false when it already exists: a resubmission or a retried job changes nothing.
 */
export function invoiceView(invoice: Invoice) {
  const { taxableCents, vatCents, totalCents, ...rest } = invoice;
  return {
    ...rest,
    amount: { value: formatCents(totalCents), currency: invoice.currency },
    taxableAmount: formatCents(taxableCents),
    vatAmount: formatCents(vatCents),
  };
}
