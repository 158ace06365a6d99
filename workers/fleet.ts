// Starts a worker fleet, the one way every process does: its services, its Redis connection, one BullMQ Worker per served queue.
import { DelayedError, RateLimitError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { AppContext } from '../queues/context.js';
import { payloadProblem, type QueueName } from '../queues/jobs.js';
import { backoffDelay, queuePolicies } from '../queues/policy.js';
import { CircuitOpenError } from '../shared/platform/errors/circuit-open.js';
import { NotDueError } from '../shared/platform/errors/not-due.js';
import { RetryableError } from '../shared/platform/errors/retryable.js';
import { ScheduledRetryError } from '../shared/platform/errors/scheduled-retry.js';
import { redactDatabaseError } from '../shared/platform/errors/safe-error.js';
import { createWorkerConnection } from '../shared/platform/redis.js';
import { handlers as taskList } from './index.js';
import { createWorkerServices, type WorkerServices } from './services.js';
import type { HandlerRegistry, JobContext, JobHandler, WorkerContext } from './types.js';

export interface Fleet {
  readonly workers: Worker[];
  /** Stops taking jobs, lets active ones finish within `graceMs`, then abandons them to the stalled-job check; closes what it opened. */
  close(graceMs: number): Promise<void>;
}

export interface FleetOptions {
  /** The queues to serve. @defaultValue the configuration's `workerQueues` (WORKER_QUEUES) */
  queues?: readonly QueueName[];
  /** Handlers by queue and job name; tests give their own. @defaultValue the task list of workers/index.ts */
  handlers?: Partial<HandlerRegistry>;
  /** Replaces a service, e.g. an in-process payment provider in the benchmark. @defaultValue every service built from the configuration */
  services?: Partial<WorkerServices>;
}

/** A fleet asked to serve a queue it has no handlers for: it refuses to start rather than leave jobs waiting for ever. */
export class UnservedQueueError extends Error {
  override name = 'UnservedQueueError';
}

export function startFleet(ctx: AppContext, options: FleetOptions = {}): Fleet {
  const queues = options.queues ?? ctx.config.workerQueues;
  const handlers = options.handlers ?? taskList;
  const unserved = queues.filter((q) => !handlers[q]);
  if (unserved.length > 0) {
    throw new UnservedQueueError(`no handlers for queue ${unserved.join(', ')}: leave it out of WORKER_QUEUES, or add its handlers to workers/index.ts`);
  }
  const policies = queuePolicies(ctx.config);
  const services = createWorkerServices(ctx, options.services);
  const workerCtx: WorkerContext = { ...ctx, services };
  // Workers wait for Redis to come back (`maxRetriesPerRequest: null`); each Worker duplicates this connection for its blocking reads.
  const connection = createWorkerConnection(ctx.config.redisUrl);
  connection.on('error', (err) => ctx.log.debug({ err }, 'redis connection error'));

  const workers = queues.map((queue) => {
    const policy = policies[queue];
    // The queue pauses (for every worker of it) while a dependency's circuit is open: jobs wait without spending attempts.
    const pause = (ms: number) => worker.rateLimit(ms);
    const worker: Worker = new Worker(queue, processorFor(queue, workerCtx, handlers, pause), {
      connection,
      prefix: ctx.queues.prefix,
      concurrency: policy.concurrency,
      lockDuration: ctx.config.jobLockMs,
      stalledInterval: ctx.config.jobLockMs,
      maxStalledCount: policy.maxStalledCount,
      settings: {
        // A handler that chose its wait (and told the client when it will try again) gets exactly that wait.
        backoffStrategy: (attemptsMade, _type, err) =>
          err instanceof ScheduledRetryError
            ? err.delayMs
            : backoffDelay(policy.backoff, attemptsMade, Math.random, err instanceof RetryableError ? err.retryAfterMs : undefined),
      },
    });
    worker.on('error', (err) => ctx.log.warn({ err, queue }, 'worker connection error'));
    return worker;
  });
  ctx.log.info({ queues }, 'workers started');

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
      services.close();
      connection.disconnect();
    },
  };
}

/**
 * Dispatches a queue's jobs to their handlers: the payload checked against the job map first (a malformed one fails at
 * once), a scoped logger, "attempt n of m" on each failure, the give-up hook on the last. A CircuitOpenError pauses the
 * queue through `pause`, or delays only its job when the circuit says so, and puts the job back without spending an
 * attempt; so does a NotDueError, for work the database says is not due yet.
 */
export function processorFor(queue: QueueName, ctx: WorkerContext, handlers: Partial<HandlerRegistry>, pause?: (ms: number) => Promise<void>) {
  const byName = handlers[queue] as Record<string, JobHandler<unknown>> | undefined;
  return async (job: Job, token?: string): Promise<unknown> => {
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const log = ctx.log.child({ queue, job: job.name, jobId: job.id, attempt });
    const jobCtx: JobContext = { ...ctx, log, job: { id: job.id ?? '', queue, name: job.name, attempt, maxAttempts, createdAt: job.timestamp } };
    const handler = byName?.[job.name];
    const started = performance.now();
    let poisoned = false;
    try {
      if (!handler) throw new UnrecoverableError(`no handler for ${queue}/${job.name}`);
      const problem = payloadProblem(queue, job.name, job.data);
      if (problem) {
        poisoned = true;
        throw new UnrecoverableError(`malformed payload, no retry can mend it: ${problem}`);
      }
      const result = await handler.run(job.data, jobCtx);
      log.info({ outcome: 'completed', ms: Math.round(performance.now() - started) }, 'job completed');
      return result;
    } catch (err) {
      // A database error's message and fields quote bound values (customer data): BullMQ keeps whatever is thrown, in
      // failedReason and the stack trace, so the log, the give-up hook and BullMQ all get the redacted one instead.
      const error = redactDatabaseError(err instanceof Error ? err : new Error(String(err)));
      if (((error instanceof CircuitOpenError && error.waits === 'job') || error instanceof NotDueError) && token) {
        const waitMs = error instanceof NotDueError ? error.dueInMs : (error.retryAfterMs ?? 1000);
        log.info({ waitMs }, `${error.message}: job delayed ${waitMs} ms, attempt ${attempt} not spent`);
        // BullMQ's moveToDelayed skips the attempt; DelayedError tells the worker the job has been moved already.
        await job.moveToDelayed(Date.now() + waitMs, token);
        throw new DelayedError();
      }
      if (error instanceof CircuitOpenError && pause) {
        log.info({ dependency: error.dependency, waitMs: error.retryAfterMs }, `${error.dependency} circuit open: queue paused, attempt ${attempt} not spent`);
        await pause(error.retryAfterMs ?? 1000);
        throw new RateLimitError();
      }
      const last = error instanceof UnrecoverableError || attempt >= maxAttempts;
      const ms = Math.round(performance.now() - started);
      log.warn({ err: error, ms, outcome: last ? 'failed' : 'retrying' }, `attempt ${attempt} of ${maxAttempts} failed: ${error.message}`);
      if (last && handler?.giveUp && !poisoned) {
        await handler.giveUp(job.data, jobCtx, error).catch((hookErr: unknown) =>
          log.error({ err: hookErr }, 'could not record the final failure; the job stays in the failed set'),
        );
      }
      throw error;
    }
  };
}
