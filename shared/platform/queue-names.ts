// The names of the fleet's queues: what WORKER_QUEUES, WORKER_CONCURRENCY and JOB_ATTEMPTS may name. queues/jobs.ts gives each its jobs.

/** Every queue a worker can serve. A queue is named here once it has jobs and handlers, never before. */
export const QUEUE_NAMES = ['invoice-save', 'sdi-send', 'charge', 'billing', 'callback', 'collect', 'orders', 'mail', 'reports', 'maintenance'] as const;

export type QueueName = (typeof QUEUE_NAMES)[number];

export function isQueueName(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}
