// A whole Antaeus for one test: its own database, a unique queue prefix on real Redis, workers on demand.
import { randomBytes } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { createApp } from '../../api/app.js';
import type { QueueName } from '../../queues/jobs.js';
import { loadConfig, type Config } from '../../shared/platform/config.js';
import type { AppContext } from '../../queues/context.js';
import { createWorkerConnection, waitForRedis } from '../../shared/platform/redis.js';
import { createRuntime, type Runtime } from '../../queues/wiring.js';
import { startFleet, type Fleet } from '../../workers/fleet.js';
import { handlers } from '../../workers/index.js';
import { createWorkerServices } from '../../workers/services.js';
import type { HandlerRegistry } from '../../workers/types.js';
import { createTestDb, type TestDb } from './db.js';
import { sharedRedisUrl } from './redis.js';

export interface TestSystem {
  ctx: AppContext;
  config: Config;
  runtime: Runtime;
  testDb: TestDb;
  /** The express app, ready for supertest. */
  app: ReturnType<typeof createApp>;
  startWorkers(queues?: QueueName[], registry?: HandlerRegistry): Fleet;
  events(queue: QueueName): Promise<QueueEvents>;
  close(): Promise<void>;
}

/** Fast retries, silent logs and a test-only queue prefix; `env` overrides any of it. */
export async function createTestSystem(env: Record<string, string> = {}, options: { redisUrl?: string } = {}): Promise<TestSystem> {
  const testDb = await createTestDb();
  const config = loadConfig({
    NODE_ENV: 'test',
    REDIS_URL: options.redisUrl ?? sharedRedisUrl(),
    DATABASE_URL: testDb.url,
    QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    CALLBACK_RETRY_SCHEDULE: '0.05,0.1,0.2',
    RETRY_BASE_DELAY_MS: '20',
    SHUTDOWN_GRACE_MS: '5000',
    ADMIN_PASSWORD: 'test-admin-password',
    ...env,
  });
  const runtime = createRuntime(config, 'test', { db: testDb.db });
  await waitForRedis(runtime.ctx.queues.connection, 5000);
  const fleets: Fleet[] = [];
  const connections: Redis[] = [];
  const queueEvents: QueueEvents[] = [];
  const closers: (() => void)[] = [];

  return {
    ctx: runtime.ctx,
    config,
    runtime,
    testDb,
    app: createApp(runtime.ctx),
    startWorkers(queues = config.workerQueues, registry = handlers) {
      const connection = createWorkerConnection(config.redisUrl);
      connection.on('error', () => undefined);
      connections.push(connection);
      const services = createWorkerServices(config, runtime.ctx.log);
      closers.push(() => services.close());
      const fleet = startFleet({ ...runtime.ctx, services }, { queues, handlers: registry, policies: runtime.policies, connection, lockMs: config.jobLockMs });
      fleets.push(fleet);
      return fleet;
    },
    async events(queue) {
      const events = new QueueEvents(queue, { connection: { url: config.redisUrl }, prefix: config.queuePrefix });
      queueEvents.push(events);
      await events.waitUntilReady();
      return events;
    },
    async close() {
      await Promise.all(fleets.map((f) => f.close(2000)));
      for (const close of closers) close();
      await Promise.all(queueEvents.map((e) => e.close()));
      for (const c of connections) c.disconnect();
      const db = runtime.ctx.db;
      // The runtime would destroy the database too; the test database owns that (and drops its schema).
      await runtime.ctx.queues.close();
      runtime.ctx.queues.connection.disconnect();
      await db.destroy().catch(() => undefined);
      await testDb.destroy();
    },
  };
}
