// Every recurring job, and the one function that upserts their BullMQ job schedulers (safe to run from every process).
import type { RepeatOptions } from 'bullmq';
import type { Config } from '../shared/platform/config.js';
import type { JobData, JobName, QueueName } from './jobs.js';
import { queuePolicies } from './policy.js';
import { defaultJobOptions, type Queues } from './producer.js';

/** How often `maintenance/reconcile` settles charges left unknown. */
export const RECONCILE_EVERY_MS = 10 * 60_000;

/** How often every worker process asks for a `maintenance/sweep` (see workers/sweep-clock.ts: not a scheduler, so it outlives a Redis that lost its data). */
export const SWEEP_EVERY_MS = 60_000;

interface Schedule<Q extends QueueName, N extends JobName<Q>> {
  queue: Q;
  /** The scheduler id, stable across releases: upserting it again updates it in place. */
  id: string;
  name: N;
  data: JobData<Q, N>;
  repeat: Omit<RepeatOptions, 'key'>;
}

type AnySchedule = { [Q in QueueName]: { [N in JobName<Q>]: Schedule<Q, N> }[JobName<Q>] }[QueueName];

export function jobSchedules(config: Pick<Config, 'reportsEveryMinutes' | 'billingCron' | 'billingTz'>): AnySchedule[] {
  const reports = { every: config.reportsEveryMinutes * 60_000 };
  return [
    { queue: 'billing', id: 'billing-run', name: 'billing-run', data: {}, repeat: { pattern: config.billingCron, tz: config.billingTz } },
    { queue: 'reports', id: 'dlq-report', name: 'dlq-report', data: {}, repeat: reports },
    { queue: 'reports', id: 'invoice-report', name: 'invoice-report', data: {}, repeat: reports },
    // Unknown charge outcomes are rare and a charge attempt settles its own first: a slow pace is enough.
    { queue: 'maintenance', id: 'reconcile', name: 'reconcile', data: {}, repeat: { every: RECONCILE_EVERY_MS } },
  ];
}

/** Creates or updates every scheduler; each produces its next job only once the previous one started. */
export async function upsertJobSchedulers(queues: Queues, config: Config): Promise<void> {
  const policies = queuePolicies(config);
  for (const s of jobSchedules(config)) {
    await queues.get(s.queue).upsertJobScheduler(s.id, s.repeat, {
      name: s.name,
      data: s.data,
      opts: defaultJobOptions(policies[s.queue]),
    });
  }
}
