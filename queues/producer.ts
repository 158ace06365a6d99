// The producer side: one BullMQ Queue per queue name, typed adds, default job options from the policy.
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { DependencyUnavailableError } from '../shared/platform/errors/unavailable.js';
import type { Logger } from '../shared/platform/logger.js';
import { QUEUE_NAMES, type JobData, type JobName, type QueueName } from './jobs.js';
import { KEEP_COMPLETED, KEEP_FAILED, type QueuePolicy } from './policy.js';

/** The custom backoff type every job uses; workers resolve it through queues/policy.ts. */
export const BACKOFF_TYPE = 'antaeus';

export interface Queues {
  readonly prefix: string;
  readonly connection: Redis;
  add<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    data: JobData<Q, N>,
    opts?: Pick<JobsOptions, 'jobId' | 'delay' | 'priority'>,
  ): Promise<Job<JobData<Q, N>>>;
  /** Adds many jobs of one name in one round trip; a job whose id exists already is left as it is. */
  addBulk<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    jobs: { data: JobData<Q, N>; jobId: string }[],
  ): Promise<void>;
  /** A job by id, or undefined; fails fast like `add` while Redis is down. */
  getJob(queue: QueueName, id: string): Promise<Job | undefined>;
  get(queue: QueueName): Queue;
  all(): Queue[];
  close(): Promise<void>;
}

export interface QueuesOptions {
  /** A producer connection (see shared/platform/redis.ts), shared by every queue and closed by the caller. */
  connection: Redis;
  prefix: string;
  policies: Record<QueueName, QueuePolicy>;
  log: Logger;
}

export function defaultJobOptions(policy: QueuePolicy): JobsOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: BACKOFF_TYPE },
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
  };
}

export function createQueues({ connection, prefix, policies, log }: QueuesOptions): Queues {
  const queues = new Map<QueueName, Queue>();
  const get = (name: QueueName): Queue => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection,
        prefix,
        // Not skipWaitingForReady: a queue first used while Redis is down would then stay broken for good.
        defaultJobOptions: defaultJobOptions(policies[name]),
      });
      // An unhandled 'error' event would crash the process; Redis outages are expected and logged.
      queue.on('error', (err) => log.warn({ err, queue: name }, 'queue connection error'));
      queues.set(name, queue);
    }
    return queue;
  };
  // Without an offline queue a command fails at once while Redis is down, except in BullMQ's own
  // initialisation, which waits for the connection: so look at the connection first.
  const ready = () => {
    if (connection.status !== 'ready') throw new DependencyUnavailableError('redis', new Error(`connection is ${connection.status}`));
  };
  return {
    prefix,
    connection,
    get,
    all: () => QUEUE_NAMES.map(get),
    async add(queue, name, data, opts) {
      ready();
      return (await get(queue).add(name, data, opts)) as Job<JobData<typeof queue, typeof name>>;
    },
    async addBulk(queue, name, jobs) {
      ready();
      await get(queue).addBulk(jobs.map(({ data, jobId }) => ({ name, data, opts: { jobId } })));
    },
    async getJob(queue, id) {
      ready();
      return get(queue).getJob(id);
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}
