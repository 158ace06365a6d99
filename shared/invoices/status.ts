// The invoice status machine as data: every status, which moves are allowed, and which outcomes a client is told.
export const INVOICE_STATUSES = [
  'INTERNAL_INVOICE_NEW',
  'INTERNAL_INVOICE_TOBE_SENT',
  'INTERNAL_INVOICE_SENT',
  'INTERNAL_INVOICE_NOT_SENT',
  'INTERNAL_INVOICE_DELIVERED',
  'INTERNAL_INVOICE_DISCARDED',
  'INTERNAL_INVOICE_NOT_DELIVERED',
  'INTERNAL_INVOICE_INVALID',
  'EXTERNAL_INVOICE',
] as const;

export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/** VOID: the SdI discarded the invoice, so it was never issued and is never charged. */
export const PAYMENT_STATUSES = ['PENDING', 'PAID', 'FAILED', 'VOID'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Allowed moves. NOT_SENT → SENT is a retry from the DLQ succeeding; the SdI outcomes are final. */
export const TRANSITIONS: Readonly<Record<InvoiceStatus, readonly InvoiceStatus[]>> = {
  INTERNAL_INVOICE_NEW: ['INTERNAL_INVOICE_TOBE_SENT', 'INTERNAL_INVOICE_INVALID', 'EXTERNAL_INVOICE'],
  INTERNAL_INVOICE_TOBE_SENT: ['INTERNAL_INVOICE_SENT', 'INTERNAL_INVOICE_NOT_SENT'],
  INTERNAL_INVOICE_NOT_SENT: ['INTERNAL_INVOICE_SENT'],
  INTERNAL_INVOICE_SENT: ['INTERNAL_INVOICE_DELIVERED', 'INTERNAL_INVOICE_DISCARDED', 'INTERNAL_INVOICE_NOT_DELIVERED'],
  INTERNAL_INVOICE_DELIVERED: [],
  INTERNAL_INVOICE_DISCARDED: [],
  INTERNAL_INVOICE_NOT_DELIVERED: [],
  INTERNAL_INVOICE_INVALID: [],
  EXTERNAL_INVOICE: [],
};

/** Only what the SdI accepted is charged: delivered, or issued but not deliverable to the buyer (still owed). */
export const CHARGEABLE_STATUSES = ['INTERNAL_INVOICE_DELIVERED', 'INTERNAL_INVOICE_NOT_DELIVERED'] as const satisfies readonly InvoiceStatus[];

export const isChargeableStatus = (status: InvoiceStatus): boolean => (CHARGEABLE_STATUSES as readonly InvoiceStatus[]).includes(status);

/** Internal invoices on their way to the SdI or waiting for its verdict: a billing run leaves them for a later run. */
export const AWAITING_SDI_STATUSES = ['INTERNAL_INVOICE_TOBE_SENT', 'INTERNAL_INVOICE_SENT', 'INTERNAL_INVOICE_NOT_SENT'] as const satisfies readonly InvoiceStatus[];

export function canTransition(from: InvoiceStatus, to: InvoiceStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A client with a callback URL hears of every status after acceptance: saved, sent, and the SdI's verdict. */
export function isNotifiedStatus(status: InvoiceStatus): boolean {
  return status !== 'INTERNAL_INVOICE_NEW';
}
