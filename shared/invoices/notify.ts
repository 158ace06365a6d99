// Tells the client who submitted an invoice where it stands, at the invoice's callback URL: the `invoice.status` event.
import type { Knex } from 'knex';
import { userIdOf } from '../access/actors.js';
import { enqueueCallback, type DeliveryQueue } from '../callbacks/messages.js';
import type { Invoice } from './invoice.js';
import { isNotifiedStatus } from './status.js';

export interface NotifyContext {
  db: Knex;
  queues: DeliveryQueue;
}

/** Who hears of an invoice: the user who submitted it, at the URL it gave; nobody when it gave none. */
export function invoiceCallbackTarget(invoice: Pick<Invoice, 'callbackUrl' | 'createdBy'>): { userId: string; url: string } | undefined {
  const userId = userIdOf(invoice.createdBy);
  return invoice.callbackUrl && userId ? { userId, url: invoice.callbackUrl } : undefined;
}

/** Tells the submitting client the invoice's current status, if it gave a callback URL: one message per status. */
export async function notifyInvoiceStatus(ctx: NotifyContext, invoice: Invoice): Promise<void> {
  const target = invoiceCallbackTarget(invoice);
  if (!target || !isNotifiedStatus(invoice.status)) return;
  await enqueueCallback(ctx, {
    ...target,
    type: 'invoice.status',
    data: {
      id: invoice.id,
      kind: invoice.kind,
      number: invoice.number,
      customerId: invoice.customerId,
      status: invoice.status,
      paymentStatus: invoice.paymentStatus,
      updatedAt: invoice.updatedAt,
    },
    resource: { type: 'invoice', id: invoice.id },
    eventKey: invoice.status,
  });
}
