// The dependencies every process builds once at its entry point and passes down: no module-level singletons.
import type { Queues } from './producer.js';
import type { Config } from '../shared/platform/config.js';
import type { Db } from '../shared/platform/db.js';
import type { Logger } from '../shared/platform/logger.js';

export interface AppContext {
  db: Db;
  queues: Queues;
  config: Config;
  log: Logger;
}
