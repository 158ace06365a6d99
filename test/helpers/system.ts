// A whole Antaeus for one test: its own database, a unique queue prefix on real Redis, workers on demand.
import { randomBytes } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { createApp } from '../../api/app.js';
import type { AppContext } from '../../queues/context.js';
import type { QueueName } from '../../queues/jobs.js';
import { wireProcess } from '../../queues/wiring.js';
import { loadConfig, type Config } from '../../shared/platform/config.js';
import { waitForRedis } from '../../shared/platform/redis.js';
import { startFleet, type Fleet } from '../../workers/fleet.js';
import type { WorkerServices } from '../../workers/services.js';
import type { HandlerRegistry } from '../../workers/types.js';
import { createTestDb, type TestDb } from './db.js';
import { sharedRedisUrl } from './redis.js';

export interface TestSystem {
  ctx: AppContext;
  config: Config;
  testDb: TestDb;
  /** The express app, ready for supertest. */
  app: ReturnType<typeof createApp>;
  /** A fleet as every process starts one (workers/fleet.ts), on this system's queues; closed with the system. `services` replaces some of its services. */
  startWorkers(queues?: QueueName[], handlers?: Partial<HandlerRegistry>, services?: Partial<WorkerServices>): Fleet;
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
    // A circuit that opens in a test closes again within it.
    PAYMENT_BREAKER_RESET_MS: '200',
    SMTP_BREAKER_RESET_MS: '200',
    SHUTDOWN_GRACE_MS: '5000',
    ADMIN_PASSWORD: 'test-admin-password',
    // High enough that no test is throttled by accident; test/http/rate-limit.test.ts sets its own low limits.
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_BURST: '1000000',
    ...env,
  });
  const wiring = wireProcess(config, 'test', { db: testDb.db });
  const fleets: Fleet[] = [];
  const queueEvents: QueueEvents[] = [];
  const system: TestSystem = {
    ctx: wiring.ctx,
    config,
    testDb,
    app: createApp(wiring.ctx),
    startWorkers(queues, handlers, services) {
      const fleet = startFleet(wiring.ctx, { queues, handlers, services });
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
      await Promise.all(queueEvents.map((e) => e.close()));
      // The wiring would destroy the database too; the test database owns that (and drops its schema).
      await wiring.ctx.xsd.close();
      await wiring.ctx.queues.close();
      wiring.ctx.queues.connection.disconnect();
      await wiring.ctx.db.destroy().catch(() => undefined);
      await testDb.destroy();
    },
  };
  try {
    await waitForRedis(wiring.ctx.queues.connection, 5000);
  } catch (err) {
    await system.close();
    throw err;
  }
  return system;
}
