// The run's shared private redis-server, and private ones for tests that stop and restart Redis.
import { RedisServer } from '../../scripts/redis-server.js';

let shared: RedisServer | undefined;

export async function startSharedRedis(): Promise<void> {
  shared = await RedisServer.start();
}

export async function stopSharedRedis(): Promise<void> {
  await shared?.stop();
}

export function sharedRedisUrl(): string {
  if (!shared) throw new Error('the shared redis-server is not running (test/setup.ts)');
  return shared.url;
}

export { RedisServer };
