// After a saga step commits: enqueue what it wrote (callback deliveries, customer mail) and the saga's next step.
import { jobIds } from '../../queues/jobs.js';
import type { Queues } from '../../queues/producer.js';
import { enqueueDelivery } from '../../shared/callbacks/messages.js';
import type { Written } from '../../shared/orders/store.js';

/**
 * Each job id is deterministic, so enqueueing twice (a retried step, the sweep) is one job. Should this fail after the
 * commit (Redis down, the worker killed), nothing is lost: the rows are written, and the sweep enqueues them again.
 */
export async function followUp(queues: Queues, written: Written | undefined): Promise<void> {
  if (!written) return;
  const { order } = written;
  if (written.next) await queues.add('orders', written.next, { orderId: order.id }, { jobId: jobIds.orderStep(order.id, written.next) });
  for (const mailId of written.mailIds) await queues.add('mail', 'send', { mailId }, { jobId: jobIds.mail(mailId) });
  for (const messageId of written.messageIds) await enqueueDelivery(queues, messageId);
}
