// Builds the pino logger every process passes down; children add request and job ids; database errors are logged without their values.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';
import { causedByDatabase, safeError, safeStack } from './errors/safe-error.js';

export type { Logger };

/**
 * pino's `err` serializer, except for a database error (or an error caused by one): its message, `detail`, `where`
 * and knex's SQL quote bound values, which are customer data, so it is logged as its class, code, safe message and
 * stack frames only.
 */
export function serializeErr(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || !causedByDatabase(err)) return pino.stdSerializers.err(err as Error);
  const cause = depth < 10 && err.cause !== undefined ? { cause: serializeErr(err.cause, depth + 1) } : {};
  return { ...safeError(err), stack: safeStack(err), ...cause };
}

/**
 * Logs go to stdout asynchronously: a quiet process writes each line at once, a busy one writes the lines that
 * queued up behind the last write together, and no request waits on a write. pino flushes on exit.
 * `destination` replaces stdout (tests read the lines).
 */
export function createLogger(config: Pick<Config, 'logLevel'>, name: string, destination?: DestinationStream): Logger {
  return pino(
    { name, level: config.logLevel, serializers: { err: serializeErr } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
