// billing/billing-run: page through the chargeable invoices by keyset and enqueue their charge jobs in bulk, several batches in flight.
import { UnrecoverableError } from 'bullmq';
import { jobIds, type JobData } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { claimForRun, countAwaitingSdi, createBillingRun, findBillingRun, finishRun, localDate, markRunStarted, saveRunProgress, selectChargeable, scheduledBillingRunId } from '../../shared/billing/runs.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'billing', 'billing-run'>;

/** Invoices per page, and so per addBulk. */
export const BILLING_PAGE_SIZE = 1000;
/** addBulk calls in flight at once: while Redis takes one batch, the next page is read and claimed. */
export const BILLING_BATCHES_IN_FLIGHT = 4;

interface Progress {
  cursor: string;
  selected: number;
  enqueued: number;
}

export async function runBilling({ runId }: Payload, ctx: JobContext): Promise<Progress & { runId: string }> {
  const id = runId ?? scheduledBillingRunId(ctx.job.id);
  // A scheduled run is recorded by its first attempt; a retry finds the same row, with the same cutoff.
  if (!runId) await createBillingRun(ctx.db, { id, cutoffDate: localDate(new Date(), ctx.config.billingTz), requestedBy: actors.scheduler, jobId: ctx.job.id });
  const run = await findBillingRun(ctx.db, id);
  if (!run) throw new UnrecoverableError(`billing run ${id} does not exist`);
  if (run.status === 'enqueued') return { runId: id, cursor: run.cursor ?? '', selected: run.selected, enqueued: run.enqueued };
  await markRunStarted(ctx.db, id);

  let progress: Progress = { cursor: run.cursor ?? '', selected: run.selected, enqueued: run.enqueued };
  const inFlight: Promise<Progress>[] = [];
  // Progress is saved in page order, so a crash resumes after the last page whose jobs are surely in Redis.
  const saveOldest = async () => saveRunProgress(ctx.db, id, await inFlight.shift()!);
  try {
    for (;;) {
      const page = await selectChargeable(ctx.db, run, progress.cursor || null, BILLING_PAGE_SIZE);
      if (page.length === 0) break;
      const claimed = await claimForRun(ctx.db, run, page);
      progress = { cursor: page[page.length - 1]!, selected: progress.selected + page.length, enqueued: progress.enqueued + claimed.length };
      const reached = progress;
      const jobs = claimed.map((invoiceId) => ({ data: { invoiceId }, jobId: jobIds.charge(invoiceId) }));
      inFlight.push(ctx.queues.addBulk('charge', 'charge', jobs).then(() => reached));
      if (inFlight.length >= BILLING_BATCHES_IN_FLIGHT) await saveOldest();
    }
    while (inFlight.length > 0) await saveOldest();
  } catch (err) {
    await Promise.allSettled(inFlight);
    throw err;
  }
  const awaitingSdi = await countAwaitingSdi(ctx.db, run.cutoffDate);
  await finishRun(ctx.db, id, 'enqueued', { awaitingSdi });
  ctx.log.info({ runId: id, selected: progress.selected, enqueued: progress.enqueued, awaitingSdi }, 'billing run enqueued its charges');
  return { runId: id, ...progress };
}

export async function giveUpBilling({ runId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  await finishRun(ctx.db, runId ?? scheduledBillingRunId(ctx.job.id), 'failed', { error: error.message });
}
