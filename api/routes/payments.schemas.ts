// What the payment routes answer, for the OpenAPI document: a payment as the ledger shows it.
import { z } from 'zod';
import { PAYMENT_KINDS, PAYMENT_RECORD_STATUSES } from '../../shared/billing/payments.js';
import { amount, instant } from '../contract/components.js';

export const paymentSchema = z
  .object({
    id: z.string(),
    paymentRefId: z.string().meta({ format: 'uuid', description: 'The reference the provider knows the charge by.' }),
    kind: z.enum(PAYMENT_KINDS),
    invoiceId: z.string().nullable(),
    orderId: z.string().nullable(),
    customerId: z.string(),
    userId: z.string().nullable(),
    amount,
    currency: z.string().meta({ example: 'EUR' }),
    status: z.enum(PAYMENT_RECORD_STATUSES),
    reason: z.string().nullable(),
    description: z.string().nullable(),
    providerChargeId: z.string().nullable(),
    dunningStep: z.number().int().nullable(),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'Payment' });
