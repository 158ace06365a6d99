// The one typed map of queues, job names and payloads, used by every producer and every handler; and the deterministic job ids.
import { deliveryJobId } from '../shared/callbacks/messages.js';
import type { ExternalInvoiceDocument, InvoiceDocument } from '../shared/invoices/document.js';
import type { QueueName } from '../shared/platform/queue-names.js';
import type { SdiNotification } from '../shared/sdi/notifications.js';

export { QUEUE_NAMES, type QueueName } from '../shared/platform/queue-names.js';

/** Who submitted a document and when the API accepted it: the first event of its history. */
export interface Acceptance {
  acceptedAt: string;
  submittedBy: string;
}

/**
 * Payloads carry ids; the handler reloads the rest from the database so a retry sees today's truth.
 * The intake jobs are the exception: the document is not in the database until their handler saves it.
 */
export interface JobMap {
  'invoice-save': {
    internal: Acceptance & { invoiceId: string; document: InvoiceDocument };
    external: Acceptance & { invoiceId: string; document: ExternalInvoiceDocument };
    'sdi-notification': Acceptance & { notificationId: string; notification: SdiNotification };
  };
  'sdi-send': { send: { invoiceId: string } };
  /** `charge` charges an invoice (the billing run's job); `one-off` a payment asked for through the API. */
  charge: { charge: { invoiceId: string }; 'one-off': { paymentId: string } };
  /** Runs asked for through the API carry their id; scheduled runs derive it from their job id. */
  billing: { 'billing-run': { runId?: string } };
  callback: { deliver: { messageId: string } };
  reports: { 'dlq-report': Record<string, never>; 'invoice-report': Record<string, never> };
}

export type JobName<Q extends QueueName> = keyof JobMap[Q] & string;
export type JobData<Q extends QueueName, N extends JobName<Q>> = JobMap[Q][N];

// Every queue named in shared/platform/queue-names.ts has its jobs here, and nothing else does.
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const everyQueueHasJobs: Exactly<keyof JobMap, QueueName> = true;
void everyQueueHasJobs;

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
};
