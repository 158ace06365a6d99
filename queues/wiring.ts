// Builds a process's dependencies from its Config (logger, database, Redis, queues) and closes them in order.
import { queuePolicies, type QueuePolicy } from './policy.js';
import { createQueues } from './producer.js';
import type { QueueName } from './jobs.js';
import { ConfigError, loadConfig, loadDotEnv, type Config } from '../shared/platform/config.js';
import type { AppContext } from './context.js';
import { createDb, type Db } from '../shared/platform/db.js';
import { createLogger } from '../shared/platform/logger.js';
import { createProducerConnection } from '../shared/platform/redis.js';

export interface Runtime {
  ctx: AppContext;
  policies: Record<QueueName, QueuePolicy>;
  close(): Promise<void>;
}

export function createRuntime(config: Config, name: string, given: { db?: Db } = {}): Runtime {
  const log = createLogger(config, name);
  const db = given.db ?? createDb({ url: config.databaseUrl, log });
  const connection = createProducerConnection(config.redisUrl);
  connection.on('error', (err) => log.debug({ err }, 'redis connection error'));
  const policies = queuePolicies(config);
  const queues = createQueues({ connection, prefix: config.queuePrefix, policies, log });
  return {
    ctx: { db, queues, config, log },
    policies,
    async close() {
      await queues.close();
      connection.disconnect();
      await db.destroy();
    },
  };
}

/** Reads `.env` and the environment; on a bad value prints one line and exits, as every entry point should. */
export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  loadDotEnv();
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if stopping failed). */
export function onShutdown(stop: () => Promise<void>, log: { info(msg: string): void; error(obj: object, msg: string): void }): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
