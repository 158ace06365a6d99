// Runs one BullMQ Worker per served queue: dispatch to handlers, scoped logs, "attempt n of m", graceful close.
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueueName } from '../queues/jobs.js';
import { backoffDelay, type QueuePolicy } from '../queues/policy.js';
import { RetryableError } from '../shared/platform/errors/retryable.js';
import type { HandlerRegistry, JobContext, JobHandler, WorkerContext } from './types.js';

export interface Fleet {
  readonly workers: Worker[];
  /** Stops taking jobs, lets active ones finish within `graceMs`, then abandons them to the stalled-job check. */
  close(graceMs: number): Promise<void>;
}

export interface FleetOptions {
  queues: QueueName[];
  handlers: HandlerRegistry;
  policies: Record<QueueName, QueuePolicy>;
  /** A worker connection (`maxRetriesPerRequest: null`); each Worker duplicates it for its blocking reads. */
  connection: Redis;
  /** Job lock duration; the stalled-job check runs as often. */
  lockMs: number;
}

export function processorFor(queue: QueueName, ctx: WorkerContext, handlers: HandlerRegistry) {
  const byName = handlers[queue] as Record<string, JobHandler<unknown>> | undefined;
  return async (job: Job): Promise<unknown> => {
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const log = ctx.log.child({ queue, job: job.name, jobId: job.id, attempt });
    const jobCtx: JobContext = { ...ctx, log, job: { id: job.id ?? '', queue, name: job.name, attempt, maxAttempts, createdAt: job.timestamp } };
    const handler = byName?.[job.name];
    const started = performance.now();
    try {
      if (!handler) throw new UnrecoverableError(`no handler for ${queue}/${job.name}`);
      const result = await handler.run(job.data, jobCtx);
      log.info({ outcome: 'completed', ms: Math.round(performance.now() - started) }, 'job completed');
      return result;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const last = error instanceof UnrecoverableError || attempt >= maxAttempts;
      const ms = Math.round(performance.now() - started);
      log.warn({ err: error, ms, outcome: last ? 'failed' : 'retrying' }, `attempt ${attempt} of ${maxAttempts} failed: ${error.message}`);
      if (last && handler?.giveUp) {
        await handler.giveUp(job.data, jobCtx, error).catch((hookErr: unknown) =>
          log.error({ err: hookErr }, 'could not record the final failure; the job stays in the failed set'),
        );
      }
      throw error;
    }
  };
}

export function startFleet(ctx: WorkerContext, options: FleetOptions): Fleet {
  const served = options.queues.filter((q) => options.handlers[q]);
  const workers = served.map((queue) => {
    const policy = options.policies[queue];
    const worker = new Worker(queue, processorFor(queue, ctx, options.handlers), {
      connection: options.connection,
      prefix: ctx.queues.prefix,
      concurrency: policy.concurrency,
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
      maxStalledCount: policy.maxStalledCount,
      settings: {
        backoffStrategy: (attemptsMade, _type, err) =>
          backoffDelay(policy.backoff, attemptsMade, Math.random, err instanceof RetryableError ? err.retryAfterMs : undefined),
      },
    });
    worker.on('error', (err) => ctx.log.warn({ err, queue }, 'worker connection error'));
    return worker;
  });
  ctx.log.info({ queues: served, skipped: options.queues.filter((q) => !options.handlers[q]) }, 'workers started');

  return {
    workers,
    async close(graceMs) {
      const closing = Promise.all(workers.map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        closing.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (!inTime) {
        ctx.log.warn({ graceMs }, 'grace period over: abandoning active jobs to the stalled-job check');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}
