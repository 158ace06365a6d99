// What the order routes answer, for the OpenAPI document: an order, its history, and the order with its payment, refund, mail and callbacks.
import { z } from 'zod';
import { PAYMENT_RECORD_STATUSES } from '../../shared/billing/payments.js';
import { ORDER_STATUSES } from '../../shared/orders/status.js';
import { amount, instant, links } from '../contract/components.js';
import { callbackSchema } from './invoices.schemas.js';

const status = z.enum(ORDER_STATUSES).meta({ description: 'Where the saga stands; `finished`, `failed`, `refunded` and `canceled` are final.', example: 'created' });

export const orderSchema = z
  .object({
    id: z.string().meta({ format: 'uuid' }),
    customerId: z.string().meta({ example: 'demo-rossi' }),
    userId: z.string().meta({ description: 'Who placed it: its callbacks are signed with their secret.' }),
    amount,
    currency: z.string().meta({ example: 'EUR' }),
    status,
    reason: z.string().nullable().meta({ description: 'Why it failed; on an unfinished order, why a step is waiting (out of attempts).', example: null }),
    callbackUrl: z.string().nullable(),
    paymentId: z.string().nullable().meta({ description: 'The payment of its charge, once checkout has reached awaitingPayment.' }),
    fulfilmentId: z.string().nullable().meta({ description: "The fulfilment service's id, once fulfilled." }),
    refundId: z.string().nullable().meta({ description: "The payment provider's refund id, once refunded." }),
    createdAt: instant,
    updatedAt: instant,
    links,
  })
  .meta({ id: 'Order' });

/** One move of the order's status: who made it, when, and what it carried (the balance, the charge, the refund). */
export const orderEvent = z
  .object({ from: z.enum(ORDER_STATUSES).nullable(), to: z.enum(ORDER_STATUSES), at: instant, actor: z.string().meta({ example: 'worker:orders' }), details: z.unknown() })
  .meta({ id: 'OrderEvent' });

const mailSchema = z
  .object({
    id: z.string(),
    kind: z.string().meta({ example: 'order-failed' }),
    to: z.string(),
    status: z.enum(['pending', 'sent', 'failed']),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    sentAt: instant.nullable(),
    createdAt: instant,
  })
  .meta({ id: 'CustomerMail' });

export const orderDetail = orderSchema
  .extend({
    events: z.array(orderEvent),
    payment: z
      .object({ id: z.string(), paymentRefId: z.string(), status: z.enum(PAYMENT_RECORD_STATUSES), providerChargeId: z.string().nullable(), reason: z.string().nullable() })
      .nullable()
      .meta({ description: 'Its charge, once checkout has reached awaitingPayment.' }),
    fulfilment: z
      .object({ id: z.string().nullable(), calls: z.number().int().meta({ description: 'Requests made to the fulfilment service, answered or not.' }) })
      .meta({ description: 'Its fulfilment, once paid.' }),
    refund: z
      .object({ id: z.string().nullable(), reason: z.string(), requestedAt: instant })
      .nullable()
      .meta({ description: 'Set when fulfilment failed for good: the refund owed, and its id once made.' }),
    mails: z.array(mailSchema).meta({ description: 'What the customer was emailed about it (e.g. the order-failed notice).' }),
    callbacks: z.array(callbackSchema),
  })
  .meta({ id: 'OrderDetail' });
