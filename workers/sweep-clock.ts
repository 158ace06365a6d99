// Every worker process asks for a maintenance/sweep at start and every minute: a timer in the process, so it survives a Redis that lost every key.
import { jobIds } from '../queues/jobs.js';
import type { Queues } from '../queues/producer.js';
import { SWEEP_EVERY_MS } from '../queues/schedules.js';
import type { Logger } from '../shared/platform/logger.js';

export interface SweepClock {
  /** Asks for this slot's sweep now (what the timer does); resolves once it is queued, or logged as not queued. */
  tick(): Promise<void>;
  stop(): void;
}

/**
 * A job scheduler lives in Redis and is lost with it, and it is the sweep that upserts the schedulers again: so the
 * sweep itself is asked for by every worker process. The job id is the slot's, so N processes make one sweep a slot.
 */
export function startSweepClock(queues: Queues, log: Logger, everyMs: number = SWEEP_EVERY_MS): SweepClock {
  const tick = async () => {
    try {
      await queues.add('maintenance', 'sweep', {}, { jobId: jobIds.sweep(Date.now(), everyMs) });
    } catch (err) {
      // Redis is down: the next tick asks again.
      log.debug({ err }, 'could not ask for a sweep');
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  return { tick, stop: () => clearInterval(timer) };
}
