// maintenance/sweep: queue again, under its deterministic job id, every piece of work the database owes, and upsert the job schedulers.
import { jobIds, type JobData } from '../../queues/jobs.js';
import { upsertJobSchedulers } from '../../queues/schedules.js';
import { userIdOf } from '../../shared/access/actors.js';
import { chargesOwed, oneOffPaymentsOwed } from '../../shared/billing/owed.js';
import { setRunJob, unfinishedRuns } from '../../shared/billing/runs.js';
import { pendingMessageIds } from '../../shared/callbacks/messages.js';
import { unfinishedCollections } from '../../shared/collections/store.js';
import { invoiceIdsInStatus } from '../../shared/invoices/store.js';
import { pendingMailIds } from '../../shared/mail/mails.js';
import { stepFor } from '../../shared/orders/status.js';
import { unfinishedOrders } from '../../shared/orders/store.js';
import { pendingNotifications } from '../../shared/sdi/notifications.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'maintenance', 'sweep'>;

/** Rows per read and per addBulk. */
export const SWEEP_PAGE = 1000;

/** What the sweep found owed, by kind: each got a job unless it had one (an existing job id is left as it is). */
export interface SweepCounts {
  sends: number;
  notifications: number;
  callbacks: number;
  charges: number;
  oneOffPayments: number;
  /** Unfinished orders: each one's next step (checkout, fulfil or refund). */
  orderSteps: number;
  /** Customer mails still to send. */
  mails: number;
  /** Unfinished data collections: each one's collect job, delayed to its next try when one is scheduled. */
  collections: number;
  /** Runs whose job was gone, queued again. */
  runs: number;
}

/**
 * Harmless when every job exists: BullMQ ignores an add whose job id it holds, in any state, the failed set
 * included (a job in the DLQ stays there for an operator to retry). So this only ever fills what Redis lost.
 */
export async function sweep(_payload: Payload, ctx: JobContext): Promise<SweepCounts> {
  // First: a Redis that lost its data lost the schedulers too, the monthly billing run's among them.
  await upsertJobSchedulers(ctx.queues, ctx.config);
  const { db, queues } = ctx;
  const now = new Date();
  const counts: SweepCounts = { sends: 0, notifications: 0, callbacks: 0, charges: 0, oneOffPayments: 0, orderSteps: 0, mails: 0, collections: 0, runs: 0 };

  counts.sends = await everyPage(
    (after) => invoiceIdsInStatus(db, 'INTERNAL_INVOICE_TOBE_SENT', after, SWEEP_PAGE),
    (id) => id,
    (ids) => queues.addBulk('sdi-send', 'send', ids.map((invoiceId) => ({ data: { invoiceId }, jobId: jobIds.sdiSend(invoiceId) }))),
  );

  counts.notifications = await everyPage(
    (after) => pendingNotifications(db, after, SWEEP_PAGE),
    (n) => n.id,
    (page) =>
      queues.addBulk(
        'invoice-save',
        'sdi-notification',
        page.map((n) => ({
          data: {
            notificationId: n.id,
            notification: { customerId: n.customerId, invoiceNumber: n.invoiceNumber, status: n.status, ...(n.errors ? { errors: n.errors } : {}) },
            acceptedAt: n.receivedAt,
            submittedBy: userIdOf(n.receivedBy) ?? n.receivedBy,
          },
          jobId: jobIds.sdiNotification(n.id),
        })),
      ),
  );

  counts.callbacks = await everyPage(
    (after) => pendingMessageIds(db, after, SWEEP_PAGE),
    (id) => id,
    (ids) => queues.addBulk('callback', 'deliver', ids.map((messageId) => ({ data: { messageId }, jobId: jobIds.callback(messageId) }))),
  );

  counts.charges = await everyPage(
    (after) => chargesOwed(db, now, after, SWEEP_PAGE),
    (c) => c.invoiceId,
    async (page) => {
      // Due now: the job of the attempt at hand. A dunning attempt still ahead: its delayed job.
      const due = page.filter((c) => !c.nextChargeAt || Date.parse(c.nextChargeAt) <= now.getTime());
      const chargeJobId = (c: (typeof page)[number]) => (c.dunningStep === 0 ? jobIds.charge(c.invoiceId) : jobIds.dunning(c.invoiceId, c.dunningStep));
      await queues.addBulk('charge', 'charge', due.map((c) => ({ data: { invoiceId: c.invoiceId }, jobId: chargeJobId(c) })));
      for (const c of page.filter((c) => !due.includes(c))) {
        await queues.add('charge', 'charge', { invoiceId: c.invoiceId }, { jobId: chargeJobId(c), delay: Date.parse(c.nextChargeAt!) - now.getTime() });
      }
    },
  );

  counts.oneOffPayments = await everyPage(
    (after) => oneOffPaymentsOwed(db, now, after, SWEEP_PAGE),
    (id) => id,
    (ids) => queues.addBulk('charge', 'one-off', ids.map((paymentId) => ({ data: { paymentId }, jobId: jobIds.oneOffCharge(paymentId) }))),
  );

  counts.orderSteps = await everyPage(
    (after) => unfinishedOrders(db, after, SWEEP_PAGE),
    (o) => o.id,
    async (page) => {
      for (const step of ['checkout', 'fulfil', 'refund'] as const) {
        const ids = page.filter((o) => stepFor(o.status, o.refundOwed) === step).map((o) => o.id);
        if (ids.length) await queues.addBulk('orders', step, ids.map((orderId) => ({ data: { orderId }, jobId: jobIds.orderStep(orderId, step) })));
      }
    },
  );

  counts.mails = await everyPage(
    (after) => pendingMailIds(db, after, SWEEP_PAGE),
    (id) => id,
    (ids) => queues.addBulk('mail', 'send', ids.map((mailId) => ({ data: { mailId }, jobId: jobIds.mail(mailId) }))),
  );

  counts.collections = await everyPage(
    (after) => unfinishedCollections(db, after, SWEEP_PAGE),
    (c) => c.id,
    async (page) => {
      // Due now (or in flight when its worker died): queued at once. A try scheduled ahead: its job waits until then.
      const dueAt = (c: (typeof page)[number]) => (c.nextAttemptAt ? Date.parse(c.nextAttemptAt) : 0);
      const due = page.filter((c) => dueAt(c) <= now.getTime());
      await queues.addBulk('collect', 'collect', due.map((c) => ({ data: { requestId: c.id }, jobId: jobIds.collect(c.id) })));
      for (const c of page.filter((c) => !due.includes(c))) {
        await queues.add('collect', 'collect', { requestId: c.id }, { jobId: jobIds.collect(c.id), delay: dueAt(c) - now.getTime() });
      }
    },
  );

  // Runs are few: look for each one's job, since a scheduled run's job id is the scheduler's, not one we can derive.
  for (const run of await unfinishedRuns(db)) {
    if (run.jobId && (await queues.getJob('billing', run.jobId))) continue;
    const jobId = jobIds.billingRun(run.id);
    await queues.add('billing', 'billing-run', { runId: run.id }, { jobId });
    await setRunJob(db, run.id, jobId);
    counts.runs += 1;
  }

  const found = Object.values(counts).reduce((a, b) => a + b, 0);
  if (found > 0) ctx.log.info({ ...counts }, 'sweep: owed work checked against its jobs');
  return counts;
}

/** Reads pages by keyset until one comes back short, handing each to `use`; returns how many rows there were. */
async function everyPage<T>(read: (afterId: string | null) => Promise<T[]>, idOf: (row: T) => string, use: (page: T[]) => Promise<unknown>): Promise<number> {
  let after: string | null = null;
  let total = 0;
  for (;;) {
    const page = await read(after);
    if (page.length > 0) await use(page);
    total += page.length;
    if (page.length < SWEEP_PAGE) return total;
    after = idOf(page[page.length - 1]!);
  }
}
