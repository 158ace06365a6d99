// Recognises a database driver's error (PostgreSQL, SQLite) and says what went wrong without the values it carries.

/** A PostgreSQL error (pg's DatabaseError) or a SQLite one (better-sqlite3's SqliteError). */
export type DriverError = Error & {
  code: string;
  /** PostgreSQL only: the schema objects involved, which are names, never data. */
  table?: string;
  column?: string;
  constraint?: string;
};

/**
 * Tells a driver's error apart by its shape rather than its class, so a second copy of a driver in node_modules does
 * not escape: PostgreSQL errors have a severity and a five-character SQLSTATE, SQLite ones their own name.
 */
export function isDatabaseError(err: unknown): err is DriverError {
  if (!(err instanceof Error)) return false;
  const { code, severity } = err as { code?: unknown; severity?: unknown };
  if (typeof code !== 'string') return false;
  return (typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) || (err.name === 'SqliteError' && code.startsWith('SQLITE_'));
}

const UNIQUE = 'unique constraint violated';
const FOREIGN_KEY = 'foreign key constraint violated';
const NOT_NULL = 'not-null constraint violated';
const CHECK = 'check constraint violated';

/** Our words for the codes met in practice: PostgreSQL's SQLSTATE and SQLite's (extended) result codes. */
const BY_CODE: Record<string, string> = {
  '23505': UNIQUE,
  '23503': FOREIGN_KEY,
  '23502': NOT_NULL,
  '23514': CHECK,
  '23P01': 'exclusion constraint violated',
  '22001': 'value too long for its column',
  '22003': 'numeric value out of range',
  '22007': 'invalid date or time format',
  '22008': 'date or time out of range',
  '22021': 'character not valid in the encoding (such as a NUL byte)',
  '22P02': 'input not valid for the column type',
  '25P02': 'transaction aborted by an earlier error',
  '40001': 'serialization failure',
  '40P01': 'deadlock detected',
  '57014': 'statement canceled',
  '42P01': 'undefined table',
  '42703': 'undefined column',
  SQLITE_CONSTRAINT_UNIQUE: UNIQUE,
  SQLITE_CONSTRAINT_PRIMARYKEY: UNIQUE,
  SQLITE_CONSTRAINT_FOREIGNKEY: FOREIGN_KEY,
  SQLITE_CONSTRAINT_NOTNULL: NOT_NULL,
  SQLITE_CONSTRAINT_CHECK: CHECK,
  SQLITE_CONSTRAINT: 'constraint violated',
  SQLITE_BUSY: 'database is locked',
  SQLITE_MISMATCH: 'datatype mismatch',
  SQLITE_TOOBIG: 'value too big',
  SQLITE_RANGE: 'bind parameter out of range',
  SQLITE_READONLY: 'database is read-only',
  SQLITE_FULL: 'database is full',
  SQLITE_CANTOPEN: 'cannot open the database file',
  SQLITE_ERROR: 'SQL error',
};

/** PostgreSQL SQLSTATE classes (the first two characters), for codes not named above. */
const BY_CLASS: Record<string, string> = {
  '08': 'connection exception',
  '22': 'data exception',
  '23': 'integrity constraint violation',
  '25': 'invalid transaction state',
  '28': 'invalid authorization',
  '3D': 'invalid database name',
  '40': 'transaction rolled back',
  '42': 'syntax error or access rule violation',
  '53': 'insufficient resources',
  '54': 'program limit exceeded',
  '55': 'object not in prerequisite state',
  '57': 'operator intervention',
  '58': 'system error',
  P0: 'error raised in PL/pgSQL',
  XX: 'internal error',
};

/** `UNIQUE constraint failed: customers.email, customers.name`: SQLite names the columns, never the values. */
const SQLITE_COLUMNS = /constraint failed: ([\w$]+(?:\.[\w$]+)?(?:, [\w$]+(?:\.[\w$]+)?)*)$/;

function generic(code: string): string {
  const primary = code.startsWith('SQLITE_') ? code.split('_').slice(0, 2).join('_') : code.slice(0, 2);
  return BY_CODE[code] ?? BY_CODE[primary] ?? BY_CLASS[primary] ?? 'database error';
}

/** The schema objects involved: PostgreSQL reports them in fields of their own, SQLite in its message's tail. */
function objects(err: DriverError): string[] {
  if (err.name === 'SqliteError') {
    const columns = SQLITE_COLUMNS.exec(err.message)?.[1];
    return columns ? [columns] : [];
  }
  return (['table', 'column', 'constraint'] as const).flatMap((field) => (typeof err[field] === 'string' && err[field] ? [`${field} ${err[field]}`] : []));
}

/**
 * What went wrong, in our words, with the tables, columns and constraints involved. Never the driver's message: it
 * can quote a value (`invalid input syntax for type uuid: "…"`), and its companions (`detail`: `Key (email)=(…)
 * already exists`, `where`, knex's SQL) carry more.
 */
export function describeDatabaseError(err: DriverError): string {
  const involved = objects(err);
  return involved.length > 0 ? `${generic(err.code)} (${involved.join(', ')})` : generic(err.code);
}
