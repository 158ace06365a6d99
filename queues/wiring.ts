// Wires a process from its Config: the logger, the database, the producer connection to Redis, the queues and the XSD validation pool; closes them in order.
import type { Config } from '../shared/platform/config.js';
import { createDb, type Db } from '../shared/platform/db.js';
import { createLogger } from '../shared/platform/logger.js';
import { createProducerConnection } from '../shared/platform/redis.js';
import { createXsdValidator } from '../shared/sdi/fatturapa/xsd.js';
import type { AppContext } from './context.js';
import { queuePolicies } from './policy.js';
import { createQueues } from './producer.js';

export interface Wiring {
  /** What the process passes down to routes and handlers. */
  ctx: AppContext;
  close(): Promise<void>;
}

/** `given.db` lends the process a database it does not own (tests); it is destroyed with the rest all the same. */
export function wireProcess(config: Config, name: string, given: { db?: Db } = {}): Wiring {
  const log = createLogger(config, name);
  const db = given.db ?? createDb({ url: config.databaseUrl, log });
  const connection = createProducerConnection(config.redisUrl);
  connection.on('error', (err) => log.debug({ err }, 'redis connection error'));
  const queues = createQueues({ connection, prefix: config.queuePrefix, policies: queuePolicies(config), log });
  // No thread starts until the first validation: a process that never validates pays nothing for it.
  const xsd = createXsdValidator({ size: config.xsdPoolSize, queue: config.xsdQueueSize, timeoutMs: config.xsdTimeoutMs, log });
  return {
    ctx: { db, queues, config, log, xsd },
    async close() {
      await xsd.close();
      await queues.close();
      connection.disconnect();
      await db.destroy();
    },
  };
}
