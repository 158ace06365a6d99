// reports/dlq-report: every failed job of every queue (the dead-letter queues) as one CSV file.
import { QUEUE_NAMES, type JobData } from '../../queues/jobs.js';
import { writeCsvReport } from '../../shared/platform/csv.js';
import type { JobContext } from '../types.js';

interface DlqRow {
  queue: string;
  jobId: string;
  name: string;
  attemptsMade: number;
  failedReason: string;
  createdAt: Date | null;
  processedAt: Date | null;
  failedAt: Date | null;
}

const PAGE = 500;
const date = (ms: number | undefined) => (ms ? new Date(ms) : null);

export async function writeDlqReport(_payload: JobData<'reports', 'dlq-report'>, ctx: JobContext): Promise<{ file: string; rows: number }> {
  async function* failedJobs(): AsyncGenerator<DlqRow> {
    for (const queueName of QUEUE_NAMES) {
      const queue = ctx.queues.get(queueName);
      // Pages oldest first, so jobs failing while the report runs are added at the end rather than shifting pages.
      for (let start = 0; ; start += PAGE) {
        const jobs = await queue.getJobs(['failed'], start, start + PAGE - 1, true);
        for (const job of jobs) {
          if (!job) continue;
          yield {
            queue: queueName,
            jobId: job.id ?? '',
            name: job.name,
            attemptsMade: job.attemptsMade,
            // As the fleet stored it: a database error there became its class, code and a message without values (workers/fleet.ts).
            failedReason: job.failedReason ?? '',
            createdAt: date(job.timestamp),
            processedAt: date(job.processedOn),
            failedAt: date(job.finishedOn),
          };
        }
        if (jobs.length < PAGE) break;
      }
    }
  }
  const result = await writeCsvReport<DlqRow>({
    dir: ctx.config.reportsDir,
    name: 'dlq-report',
    at: new Date(ctx.job.createdAt),
    columns: [
      { key: 'queue', header: 'queue' },
      { key: 'jobId', header: 'job id' },
      { key: 'name', header: 'name' },
      { key: 'attemptsMade', header: 'attempts' },
      { key: 'failedReason', header: 'failure reason' },
      { key: 'createdAt', header: 'created at' },
      { key: 'processedAt', header: 'last attempt at' },
      { key: 'failedAt', header: 'failed at' },
    ],
    rows: failedJobs(),
  });
  ctx.log.info(result, 'DLQ report written');
  return result;
}
