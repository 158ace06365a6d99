// Builds the pino logger every process passes down; children add request and job ids.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/**
 * Logs go to stdout asynchronously: a quiet process writes each line at once, a busy one writes the lines that
 * queued up behind the last write together, and no request waits on a write. pino flushes on exit.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, name: string): Logger {
  return pino(
    { name, level: config.logLevel },
    pino.destination({ dest: 1, sync: false }),
  );
}
