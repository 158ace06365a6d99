// The one typed map of queues, job names and payloads, as zod schemas: producers type against it, handlers validate at their door; and the deterministic job ids.
import { z } from 'zod';
import { deliveryJobId } from '../shared/callbacks/messages.js';
import { orderStepJobId } from '../shared/orders/status.js';
import { externalInvoiceDocumentSchema, invoiceDocumentSchema } from '../shared/invoices/document.js';
import type { QueueName } from '../shared/platform/queue-names.js';
import { sdiNotificationSchema } from '../shared/sdi/notifications.js';

export { QUEUE_NAMES, type QueueName } from '../shared/platform/queue-names.js';

const id = z.string().min(1).max(128);

/** Who submitted a document and when the API accepted it: the first event of its history. */
const acceptance = { acceptedAt: z.iso.datetime({ offset: true }), submittedBy: z.string().min(1).max(128) };

const noData = z.object({}).strict();

/**
 * Payloads carry ids; the handler reloads the rest from the database so a retry sees today's truth.
 * The intake jobs are the exception: the document is not in the database until their handler saves it.
 */
export const jobSchemas = {
  'invoice-save': {
    internal: z.object({ ...acceptance, invoiceId: id, document: invoiceDocumentSchema }),
    external: z.object({ ...acceptance, invoiceId: id, document: externalInvoiceDocumentSchema }),
    'sdi-notification': z.object({ ...acceptance, notificationId: id, notification: sdiNotificationSchema }),
  },
  'sdi-send': { send: z.object({ invoiceId: id }) },
  /** `charge` charges an invoice (the billing run's job); `one-off` a payment asked for through the API. */
  charge: { charge: z.object({ invoiceId: id }), 'one-off': z.object({ paymentId: id }) },
  /** Runs asked for through the API carry their id; scheduled runs derive it from their job id. */
  billing: { 'billing-run': z.object({ runId: id.optional() }) },
  callback: { deliver: z.object({ messageId: id }) },
  /** One provider call per attempt for a collection request written before the API answered 202. */
  collect: { collect: z.object({ requestId: id }) },
  /** The order saga's steps, one job each; every step reloads the order and moves it only from the status it expects. */
  orders: { checkout: z.object({ orderId: id }), fulfil: z.object({ orderId: id }), refund: z.object({ orderId: id }) },
  /** One email to a customer, recorded in the database first (e.g. the order-failed notice). */
  mail: { send: z.object({ mailId: id }) },
  reports: { 'dlq-report': noData, 'invoice-report': noData },
  /** `sweep` re-drives the work the database owes; `reconcile` settles charges whose outcome is unknown. */
  maintenance: { sweep: noData, reconcile: noData },
} as const satisfies Record<QueueName, Record<string, z.ZodType>>;

type Schemas = typeof jobSchemas;

export type JobMap = { [Q in keyof Schemas]: { [N in keyof Schemas[Q]]: z.output<Schemas[Q][N] & z.ZodType> } };
export type JobName<Q extends QueueName> = keyof JobMap[Q] & string;
export type JobData<Q extends QueueName, N extends JobName<Q>> = JobMap[Q][N];

// Every queue named in shared/platform/queue-names.ts has its jobs here, and nothing else does.
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const everyQueueHasJobs: Exactly<keyof JobMap, QueueName> = true;
void everyQueueHasJobs;

/** Why a payload cannot be valid, or undefined when it is: one line naming each bad field. */
export function payloadProblem(queue: QueueName, name: string, data: unknown): string | undefined {
  const schema = (jobSchemas[queue] as Record<string, z.ZodType>)[name];
  if (!schema) return `no job ${queue}/${name} in the job map`;
  const parsed = schema.safeParse(data);
  if (parsed.success) return undefined;
  return parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`)
    .join('; ');
}

/** Deterministic job ids: BullMQ refuses `:` in custom ids, so ids are joined with `-`. */
export const jobIds = {
  invoiceSave: (invoiceId: string) => `invoice-${invoiceId}`,
  sdiNotification: (notificationId: string) => `sdi-notification-${notificationId}`,
  sdiSend: (invoiceId: string) => `send-${invoiceId}`,
  /** Named by the callbacks capability, which enqueues its deliveries itself. */
  callback: deliveryJobId,
  charge: (invoiceId: string) => `charge-${invoiceId}`,
  /** Each dunning attempt is its own delayed job: the first job has completed by then. */
  dunning: (invoiceId: string, step: number) => `charge-${invoiceId}-dunning-${step}`,
  oneOffCharge: (paymentId: string) => `payment-${paymentId}`,
  billingRun: (runId: string) => `billing-run-${runId}`,
  /** Named by the orders capability, which enqueues the saga's next step itself. */
  orderStep: orderStepJobId,
  mail: (mailId: string) => `mail-${mailId}`,
  collect: (requestId: string) => `collect-${requestId}`,
  /** One sweep per slot of the sweep clock, however many worker processes ask for it. */
  sweep: (at: number, everyMs: number) => `sweep-${Math.floor(at / everyMs)}`,
};
