// Any error as { type, code, message } fit for logs, job records and reports: a database error loses the values it carries.
import { describeDatabaseError, isDatabaseError } from './database-error.js';

export interface SafeError {
  /** The error's class: `DatabaseError` (PostgreSQL), `SqliteError`, `RetryableError`… */
  type: string;
  /** A SQLSTATE, an `SQLITE_` code, or a Node code such as `ECONNREFUSED`, when the error has one. */
  code?: string;
  /** For a database error, what went wrong and the schema objects involved, without values; otherwise the message as it is. */
  message: string;
}

function typeOf(err: Error): string {
  return typeof err.constructor === 'function' && err.constructor.name ? err.constructor.name : err.name;
}

export function safeError(err: unknown): SafeError {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const code = (err as { code?: unknown }).code;
  const safe: SafeError = { type: typeOf(err), message: isDatabaseError(err) ? describeDatabaseError(err) : err.message };
  if (typeof code === 'string') safe.code = code;
  return safe;
}

/** The stack frames of an error under a header rebuilt from its safe message: the header V8 writes repeats the message. */
export function safeStack(err: Error): string | undefined {
  if (!isDatabaseError(err)) return err.stack;
  const frames = (err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  const { type, message } = safeError(err);
  return [`${type}: ${message}`, ...frames].join('\n');
}

/** Tells whether an error is a database error, or was caused by one. */
export function causedByDatabase(err: unknown, depth = 0): boolean {
  if (isDatabaseError(err)) return true;
  return depth < 10 && err instanceof Error && err.cause !== undefined && causedByDatabase(err.cause, depth + 1);
}

/**
 * What a worker throws in place of a database error, so BullMQ's `failedReason` and stack trace (and so the DLQ
 * report, Bull Board and the give-up hooks) name the class and code but hold no bound value. It keeps `code`, so the
 * checks on codes (`isUniqueViolation`, `isUnavailable`) still see it; it keeps no `cause`.
 */
export class RedactedDatabaseError extends Error {
  override name = 'RedactedDatabaseError';
  /** The class of the error it stands for. */
  readonly type: string;
  readonly code: string | undefined;

  constructor(original: Error) {
    const safe = safeError(original);
    super(`${safe.type}${safe.code ? ` ${safe.code}` : ''}: ${safe.message}`);
    this.type = safe.type;
    this.code = safe.code;
    this.stack = [`${this.name}: ${this.message}`, ...(safeStack(original) ?? '').split('\n').slice(1)].join('\n');
  }
}

/** A database error as a RedactedDatabaseError; any other error as it is. */
export function redactDatabaseError<E>(err: E): E | RedactedDatabaseError {
  return isDatabaseError(err) ? new RedactedDatabaseError(err) : err;
}
