// Identifiers: random ids for new rows, UUIDv5 where the same input must always map to the same id.
import { randomUUID } from 'node:crypto';
import { parse as parseUuid, v5 as uuidv5 } from 'uuid';

// A fixed namespace so ids stay stable across processes and releases; parsed once, not on every id.
const NAMESPACE = parseUuid('5b0c3e39-6f0e-4d55-9a57-6e1b0f7f2a11');

export const newId = (): string => randomUUID();

/** The same kind, customer and number always give the same invoice id: resubmissions cannot create twins. */
export function invoiceId(kind: 'internal' | 'external', customerId: string, number: string): string {
  return uuidv5(JSON.stringify(['invoice', kind, customerId, number]), NAMESPACE);
}

/** One id per notified outcome, so the SdI repeating itself is recorded once. */
export function sdiNotificationId(customerId: string, invoiceNumber: string, status: string): string {
  return uuidv5(JSON.stringify(['sdi-notification', customerId, invoiceNumber, status]), NAMESPACE);
}

/** One callback message per event: the webhook-id a client deduplicates on. */
export function callbackMessageId(...event: string[]): string {
  return `msg_${uuidv5(JSON.stringify(['callback', ...event]), NAMESPACE).replaceAll('-', '')}`;
}

/** The provider's idempotency key of one charge attempt: fixed across network retries, new for each dunning attempt. */
export function chargeKey(subject: 'invoice' | 'payment', id: string, dunningStep = 0): string {
  return subject === 'invoice' ? `invoice-${id}-${dunningStep}` : `payment-${id}`;
}

/** The payment recording a charge attempt: one per idempotency key, whichever worker records it. */
export function paymentIdForCharge(key: string): string {
  return uuidv5(JSON.stringify(['payment', key]), NAMESPACE);
}

/** A scheduled billing run's id, from its scheduler job's id, so a retried job resumes the same run. */
export function scheduledBillingRunId(jobId: string): string {
  return uuidv5(JSON.stringify(['billing-run', jobId]), NAMESPACE);
}

/** A one-off payment's id, from who asked and their Idempotency-Key, so a replayed request finds the same payment. */
export function oneOffPaymentId(userId: string, idempotencyKey: string): string {
  return uuidv5(JSON.stringify(['one-off-payment', userId, idempotencyKey]), NAMESPACE);
}
