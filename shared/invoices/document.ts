// The invoice documents clients submit, internal and external: one zod schema each, shared by the API and the job payloads.
import { z } from 'zod';
import { isoDate, resourceId, safeText, whenParsed, withoutControlChars } from '../platform/input.js';
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

/**
 * FatturaPA's DataFatturaType: an invoice dated earlier fails the schema and could never be sent. Refused at intake
 * rather than saved to end NOT_SENT.
 */
export const FATTURAPA_MIN_DATE = '1970-01-01';

const issueDate = isoDate.refine((d) => d >= FATTURAPA_MIN_DATE, { message: `must be ${FATTURAPA_MIN_DATE} or later`, when: whenParsed() });

/**
 * A decimal given as a JSON number or string, kept as a string so no value passes through floating point twice.
 * A preprocess rather than a union: a union tries the number branch first and builds an issue for every string.
 */
const decimal = (pattern: RegExp, message: string, example: string) =>
  z
    .preprocess((v) => (typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : v), z.string().regex(pattern, message))
    // For the OpenAPI document: a number is taken too (the pattern applies to strings only).
    .meta({ type: ['string', 'number'], example });

export const invoiceLineSchema = z
  .strictObject({
    description: z.string().min(1).max(1000).regex(LATIN1_PRINTABLE, 'only Latin-1 characters can be sent to the SdI'),
    quantity: decimal(/^\d{1,12}(\.\d{1,8})?$/, 'expected a positive decimal with at most 8 decimals', '12').refine((s) => Number(s) > 0, {
      message: 'must be greater than 0',
      when: whenParsed(),
    }),
    unitPrice: decimal(/^-?\d{1,11}(\.\d{1,8})?$/, 'expected a decimal with at most 8 decimals', '85.00'),
    vatRate: decimal(/^\d{1,3}(\.\d{1,2})?$/, 'expected a percentage with at most 2 decimals', '22').refine((s) => Number(s) <= 100, {
      message: 'must be at most 100',
      when: whenParsed(),
    }),
    natura: z.enum(NATURA_CODES).optional(),
  })
  .superRefine(
    (line, ctx) => {
      const zeroRate = Number(line.vatRate) === 0;
      if (zeroRate && !line.natura) {
        ctx.addIssue({ code: 'custom', path: ['natura'], message: 'required when vatRate is 0' });
      }
      if (!zeroRate && line.natura) {
        ctx.addIssue({ code: 'custom', path: ['natura'], message: 'only allowed when vatRate is 0' });
      }
    },
    { when: whenParsed('vatRate', 'natura') },
  );

/** A document as a client sends one, for the OpenAPI document's examples. */
function exampleDocument() {
  return {
    customerId: 'demo-acme',
    number: '2026/0042',
    issueDate: '2026-11-01',
    dueDate: '2026-12-01',
    currency: 'EUR',
    callbackUrl: 'https://erp.example.com/hooks/antaeus',
    lines: [
      { description: 'Consulenza sistemistica, ottobre 2026', quantity: '12', unitPrice: '85.00', vatRate: '22' },
      { description: 'Bolli', quantity: 1, unitPrice: '2.00', vatRate: 0, natura: 'N1' },
    ],
  };
}

/** What every invoice document is, issued or received. */
const documentShape = {
  customerId: resourceId(64),
  number: z.string().min(1).max(20).regex(BASIC_LATIN_PRINTABLE, 'only Basic Latin characters are allowed'),
  issueDate,
  dueDate: isoDate.optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as EUR'),
  lines: z.array(invoiceLineSchema).min(1).max(1000),
  callbackUrl: withoutControlChars(z.url({ protocol: /^https?$/ }).max(2048)).optional(),
};

type DocumentFields = z.output<z.ZodObject<typeof documentShape>>;

// The rules across fields, for both documents. Each runs only once the fields it reads have parsed: zod 4 would
// otherwise hand it a price such as "10,00", which big.js refuses with an exception.
const dueNotBeforeIssue = (d: DocumentFields) => !d.dueDate || d.dueDate >= d.issueDate;
const dueNotBeforeIssueParams = { path: ['dueDate'], message: 'must not be before issueDate', when: whenParsed('issueDate', 'dueDate') };

/**
 * The amounts rule, computed once per document (big.js is the costliest step of intake): every line and the total fit
 * what an SdI invoice can carry and, for an invoice we issue, the total is above zero. A negative or zero total is a
 * credit note, a document type of its own; accepted here it could never be charged, and would only be retried for ever.
 */
const amountsRule = (mustBePositive: boolean) => (d: DocumentFields, ctx: z.RefinementCtx): void => {
  const totals = computeTotals(d.lines);
  const overflow = amountOverflow(totals);
  if (overflow !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: overflow === 'total' ? ['lines'] : ['lines', overflow, 'unitPrice'],
      message: `${overflow === 'total' ? 'the invoice total' : 'the line total'} exceeds 99999999999.99, the most an SdI invoice can carry`,
    });
  }
  if (mustBePositive && totals.totalCents <= 0) {
    ctx.addIssue({ code: 'custom', path: ['lines'], message: 'the invoice total must be above zero (a credit note is not an invoice)' });
  }
};

const whenLinesParsed = { when: whenParsed('lines') };

/**
 * An invoice we issue: its total must be above zero. A negative or zero total is a credit note, a document type of
 * its own; accepted here it could never be charged, and would only be retried for ever. Unknown fields are refused.
 */
export const invoiceDocumentSchema = z
  .strictObject(documentShape)
  .refine(dueNotBeforeIssue, dueNotBeforeIssueParams)
  .superRefine(amountsRule(true), whenLinesParsed)
  .meta({ id: 'InvoiceDocument', example: exampleDocument() });

/** An invoice received from a supplier: the same document, plus who sent it. Unknown fields are refused. */
export const externalInvoiceDocumentSchema = z
  .strictObject({
    ...documentShape,
    supplier: z.strictObject({ name: safeText(200).min(1), vatNumber: safeText(30).min(3).optional() }).optional(),
  })
  .refine(dueNotBeforeIssue, dueNotBeforeIssueParams)
  .superRefine(amountsRule(false), whenLinesParsed)
  .meta({ id: 'ExternalInvoiceDocument', example: { ...exampleDocument(), supplier: { name: 'Fornitore Srl', vatNumber: 'IT01234567897' } } });

export type InvoiceDocument = z.output<typeof invoiceDocumentSchema>;
export type ExternalInvoiceDocument = z.output<typeof externalInvoiceDocumentSchema>;
export type InvoiceLineInput = z.output<typeof invoiceLineSchema>;
