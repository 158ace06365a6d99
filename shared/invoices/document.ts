// The invoice documents clients submit, internal and external: one zod schema each, shared by the API and the job payloads.
import { z } from 'zod';
import { amountOverflow, computeTotals } from '../platform/money.js';

/** FatturaPA nature codes (`NaturaType`), required on lines whose VAT rate is 0. */
export const NATURA_CODES = [
  'N1', 'N2', 'N2.1', 'N2.2', 'N3', 'N3.1', 'N3.2', 'N3.3', 'N3.4', 'N3.5', 'N3.6',
  'N4', 'N5', 'N6', 'N6.1', 'N6.2', 'N6.3', 'N6.4', 'N6.5', 'N6.6', 'N6.7', 'N6.8', 'N6.9', 'N7',
] as const;

// FatturaPA text types are Latin: String20Type is Basic Latin, String1000LatinType adds Latin-1.
// Rejecting other characters here is cheaper than a document the SdI discards later.
const BASIC_LATIN_PRINTABLE = /^[\x20-\x7e]+$/;
const LATIN1_PRINTABLE = /^[\x20-\x7e\xa0-\xff]+$/;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** YYYY-MM-DD naming a real day (29 February only in leap years). */
export function isCalendarDate(s: string): boolean {
  const year = Number(s.slice(0, 4));
  const month = Number(s.slice(5, 7));
  const day = Number(s.slice(8, 10));
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) return false;
  return month !== 2 || day < 29 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date as YYYY-MM-DD')
  .refine(isCalendarDate, 'not a calendar date');

/**
 * A decimal given as a JSON number or string, kept as a string so no value passes through floating point twice.
 * A preprocess rather than a union: a union tries the number branch first and builds an issue for every string.
 */
const decimal = (pattern: RegExp, message: string) =>
  z.preprocess((v) => (typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : v), z.string().regex(pattern, message));

export const invoiceLineSchema = z
  .object({
    description: z.string().min(1).max(1000).regex(LATIN1_PRINTABLE, 'only Latin-1 characters can be sent to the SdI'),
    quantity: decimal(/^\d{1,12}(\.\d{1,8})?$/, 'expected a positive decimal with at most 8 decimals').refine(
      (s) => Number(s) > 0,
      'must be greater than 0',
    ),
    unitPrice: decimal(/^-?\d{1,11}(\.\d{1,8})?$/, 'expected a decimal with at most 8 decimals'),
    vatRate: decimal(/^\d{1,3}(\.\d{1,2})?$/, 'expected a percentage with at most 2 decimals').refine(
      (s) => Number(s) <= 100,
      'must be at most 100',
    ),
    natura: z.enum(NATURA_CODES).optional(),
  })
  .superRefine((line, ctx) => {
    const zeroRate = Number(line.vatRate) === 0;
    if (zeroRate && !line.natura) {
      ctx.addIssue({ code: 'custom', path: ['natura'], message: 'required when vatRate is 0' });
    }
    if (!zeroRate && line.natura) {
      ctx.addIssue({ code: 'custom', path: ['natura'], message: 'only allowed when vatRate is 0' });
    }
  });

/** What every invoice document is, issued or received. */
const documentSchema = z
  .object({
    customerId: z.string().min(1).max(64),
    number: z.string().min(1).max(20).regex(BASIC_LATIN_PRINTABLE, 'only Basic Latin characters are allowed'),
    issueDate: isoDate,
    dueDate: isoDate.optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as EUR'),
    lines: z.array(invoiceLineSchema).min(1).max(1000),
    callbackUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  })
  .refine((d) => !d.dueDate || d.dueDate >= d.issueDate, { path: ['dueDate'], message: 'must not be before issueDate' })
  .superRefine((d, ctx) => {
    const overflow = amountOverflow(computeTotals(d.lines));
    if (overflow === undefined) return;
    ctx.addIssue({
      code: 'custom',
      path: overflow === 'total' ? ['lines'] : ['lines', overflow, 'unitPrice'],
      message: `${overflow === 'total' ? 'the invoice total' : 'the line total'} exceeds 99999999999.99, the most an SdI invoice can carry`,
    });
  });

/**
 * An invoice we issue: its total must be above zero. A negative or zero total is a credit note, a document type of
 * its own; accepted here it could never be charged, and would only be retried for ever.
 */
export const invoiceDocumentSchema = documentSchema.superRefine((d, ctx) => {
  const { totalCents } = computeTotals(d.lines);
  if (totalCents <= 0) ctx.addIssue({ code: 'custom', path: ['lines'], message: 'the invoice total must be above zero (a credit note is not an invoice)' });
});

/** An invoice received from a supplier: the same document, plus who sent it. */
export const externalInvoiceDocumentSchema = documentSchema.and(
  z.object({
    supplier: z
      .object({ name: z.string().min(1).max(200), vatNumber: z.string().min(3).max(30).optional() })
      .optional(),
  }),
);

export type InvoiceDocument = z.output<typeof invoiceDocumentSchema>;
export type ExternalInvoiceDocument = z.output<typeof externalInvoiceDocumentSchema>;
export type InvoiceLineInput = z.output<typeof invoiceLineSchema>;
