// After a saga step commits: enqueue what it wrote (callback deliveries, customer mail) and the saga's next step.
import { jobIds } from '../../queues/jobs.js';
import type { Queues } from '../../queues/producer.js';
import type { Knex } from 'knex';
import { enqueueDelivery, listCallbacks } from '../../shared/callbacks/messages.js';
import { listMails } from '../../shared/mail/mails.js';
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

/**
 * A step that finds its order moved on already (a retry after its process died between the commit and the queueing)
 * queues what that commit left unsent: the order's pending mail and callbacks. Without this they would wait for the
 * sweep; with it, the retry mends its own crash.
 */
export async function followUpUnsent(ctx: { db: Knex; queues: Queues }, orderId: string): Promise<void> {
  const subject = { type: 'order', id: orderId };
  const [mails, callbacks] = await Promise.all([listMails(ctx.db, subject), listCallbacks(ctx.db, subject)]);
  for (const mail of mails.filter((m) => m.status === 'pending')) await ctx.queues.add('mail', 'send', { mailId: mail.id }, { jobId: jobIds.mail(mail.id) });
  for (const message of callbacks.filter((c) => c.status === 'pending')) await enqueueDelivery(ctx.queues, message.id);
}
