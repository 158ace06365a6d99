// Redis connection factories: producers fail fast, workers wait for Redis to come back.
import { Redis, type RedisOptions } from 'ioredis';

const reconnect = (times: number) => Math.min(200 * times, 2000);

/**
 * For the API and other producers: no offline queue and one retry per command, so a request
 * fails at once while Redis is down (the API answers 503) instead of waiting in memory; and a
 * command timeout, so a Redis that accepts but never answers cannot hold a request either; and auto-pipelining,
 * so under load the commands of many requests leave in one write rather than one system call each.
 */
export function createProducerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1500,
    retryStrategy: reconnect,
    // Commands issued in the same tick (a request's rate-limit call, other requests' job adds) share one write.
    enableAutoPipelining: true,
    ...options,
  });
}

/** For workers: BullMQ's blocking commands require `maxRetriesPerRequest: null`. */
export function createWorkerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: reconnect,
    ...options,
  });
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
