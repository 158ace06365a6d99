// The dependencies every process builds once at its entry point and passes down to routes and handlers: no module-level singletons.
import type { Config } from '../shared/platform/config.js';
import type { Db } from '../shared/platform/db.js';
import type { Logger } from '../shared/platform/logger.js';
import type { XsdValidator } from '../shared/sdi/fatturapa/xsd.js';
import type { Queues } from './producer.js';

// It carries the typed queues, so it lives with them, above shared/: the capabilities never see the job map, only the
// narrow parts of this context they declare (a database, a DeliveryQueue, a config Pick).

export interface AppContext {
  db: Db;
  queues: Queues;
  config: Config;
  log: Logger;
  /** The process's one pool of XSD validation threads: the API's receipts and the workers' invoices share it. */
  xsd: XsdValidator;
}
