// The dependencies every process builds once at its entry point and passes down: no module-level singletons.
import type { Queues } from '../queues/queues.js';
import type { Config } from './config.js';
import type { Db } from './db.js';
import type { Logger } from './logger.js';

export interface AppContext {
  db: Db;
  queues: Queues;
  config: Config;
  log: Logger;
}
