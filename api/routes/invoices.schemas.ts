// What the invoice routes answer, for the OpenAPI document: an accepted invoice, an invoice, and one with its lines, timeline, SdI file and callbacks.
import { z } from 'zod';
import { INVOICE_STATUSES, PAYMENT_STATUSES } from '../../shared/invoices/status.js';
import { amount, day, instant, links } from '../contract/components.js';

export const acceptedInvoice = z
  .object({
    id: z.string().meta({ example: 'inv_3k9v2m7q8x1c' }),
    status: z.literal('INTERNAL_INVOICE_NEW'),
    links,
  })
  .meta({ id: 'AcceptedInvoice' });

export const invoiceSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['internal', 'external']),
    customerId: z.string(),
    number: z.string(),
    issueDate: day,
    dueDate: day.nullable(),
    currency: z.string().meta({ example: 'EUR' }),
    status: z.enum(INVOICE_STATUSES),
    paymentStatus: z.enum(PAYMENT_STATUSES).nullable(),
    paymentFailureReason: z.string().nullable(),
    dunningStep: z.number().int(),
    nextChargeAt: instant.nullable(),
    billingRunId: z.string().nullable(),
    callbackUrl: z.string().nullable(),
    supplier: z.object({ name: z.string(), vatNumber: z.string().optional() }).nullable(),
    amount: z.object({ value: amount, currency: z.string() }).meta({ description: 'The total, VAT included.' }),
    taxableAmount: amount,
    vatAmount: amount,
    createdAt: instant,
    createdBy: z.string(),
    updatedAt: instant,
    updatedBy: z.string(),
  })
  .meta({ id: 'Invoice' });

const line = z.object({
  lineNumber: z.number().int(),
  description: z.string(),
  quantity: z.string(),
  unitPrice: z.string(),
  vatRate: z.string(),
  natura: z.string().nullable(),
  totalCents: z.number().int(),
});

/** One move of the invoice's status: who made it, when, and what it carried (e.g. the SdI's errors). */
export const invoiceEvent = z
  .object({ from: z.enum(INVOICE_STATUSES).nullable(), to: z.enum(INVOICE_STATUSES), at: instant, actor: z.string(), details: z.unknown() })
  .meta({ id: 'InvoiceEvent' });

/** A callback message and each attempt to deliver it. */
export const callbackSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    body: z.unknown(),
    deliveries: z.array(z.object({}).loose()),
  })
  .loose()
  .meta({ id: 'Callback' });

const sdiSection = z
  .object({
    fileName: z.string(),
    format: z.string(),
    renderedAt: instant,
    sentAt: instant.nullable(),
    smtpMessageId: z.string().nullable(),
    errors: z.unknown(),
    links,
  })
  .nullable();

export const invoiceDetail = invoiceSchema
  .extend({
    lines: z.array(line),
    events: z.array(invoiceEvent),
    callbacks: z.array(callbackSchema),
    sdi: sdiSection,
    processing: z
      .object({ state: z.string(), attemptsMade: z.number().int(), lastError: z.string().nullable() })
      .optional()
      .meta({ description: 'Only while the invoice is accepted but not saved yet: its intake job.' }),
  })
  .meta({ id: 'InvoiceDetail' });
