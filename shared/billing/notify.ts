// Tells the client who submitted an invoice what each charge of it came to: the `invoice.payment` event.
import { enqueueCallback } from '../callbacks/messages.js';
import type { Invoice } from '../invoices/invoice.js';
import { invoiceCallbackTarget, type NotifyContext } from '../invoices/notify.js';
import { formatCents } from '../platform/money.js';
import type { Payment } from './payments.js';

/** One message per charge attempt (per idempotency key), with the invoice's payment status after it. */
export async function notifyInvoicePayment(ctx: NotifyContext, invoice: Invoice, payment: Payment): Promise<void> {
  const target = invoiceCallbackTarget(invoice);
  if (!target) return;
  await enqueueCallback(ctx, {
    ...target,
    type: 'invoice.payment',
    data: {
      id: invoice.id,
      number: invoice.number,
      customerId: invoice.customerId,
      paymentStatus: invoice.paymentStatus,
      nextChargeAt: invoice.nextChargeAt,
      payment: {
        id: payment.id,
        paymentRefId: payment.paymentRefId,
        status: payment.status,
        amount: formatCents(payment.amountCents),
        currency: payment.currency,
        reason: payment.reason,
      },
    },
    resource: { type: 'invoice', id: invoice.id },
    eventKey: `payment-${payment.idempotencyKey}`,
  });
}
