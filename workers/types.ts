// What a job handler is: a plain async function of its payload and a context, plus an optional give-up hook.
import type { AppContext } from '../queues/context.js';
import type { JobData, JobName, QueueName } from '../queues/jobs.js';
import type { WorkerServices } from './services.js';

/** What a worker process hands its handlers: the shared dependencies plus the services built for the fleet. */
export interface WorkerContext extends AppContext {
  services: WorkerServices;
}

export interface JobContext extends WorkerContext {
  job: {
    id: string;
    queue: QueueName;
    name: string;
    /** 1 on the first run. */
    attempt: number;
    maxAttempts: number;
    /** When the job was created (ms since the epoch); the same on every attempt. */
    createdAt: number;
  };
}

export interface JobHandler<P> {
  run(payload: P, ctx: JobContext): Promise<unknown>;
  /** Called once when the job fails for the last time: record the outcome where the API can see it. */
  giveUp?(payload: P, ctx: JobContext, error: Error): Promise<void>;
}

/** The handlers of one queue: one per job name the job map gives it. */
export type QueueHandlers<Q extends QueueName> = { [N in JobName<Q>]: JobHandler<JobData<Q, N>> };

/** The task list: every queue of the job map, every job name of each, mapped to its handler; a gap does not compile. */
export type HandlerRegistry = { [Q in QueueName]: QueueHandlers<Q> };
