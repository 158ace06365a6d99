// Tells the client who submitted an invoice what each charge of it came to: the `invoice.payment` event.
import { enqueueCallback } from '../callbacks/messages.js';
import type { Invoice } from '../invoices/invoice.js';
import { invoiceCallbackTarget, type NotifyContext } from '../invoices/notify.js';
import { findInvoice } from '../invoices/store.js';
import { formatCents } from '../platform/money.js';
import { latestInvoicePayment, type Payment } from './payments.js';

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

/** After a settlement: the invoice as it is now and its newest payment, told to the client (when it has a callback URL). */
export async function notifyLatestInvoicePayment(ctx: NotifyContext, invoiceId: string): Promise<void> {
  const invoice = await findInvoice(ctx.db, invoiceId);
  if (!invoice || !invoiceCallbackTarget(invoice)) return;
  const payment = await latestInvoicePayment(ctx.db, invoiceId);
  if (payment) await notifyInvoicePayment(ctx, invoice, payment);
}
