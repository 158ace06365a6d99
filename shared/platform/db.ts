// Builds the knex instance: SQLite (better-sqlite3, WAL) by default, PostgreSQL when DATABASE_URL says postgres://.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';
import type { Logger } from './logger.js';

export type Db = Knex;

export interface DbOptions {
  /** A `postgres://` URL or a SQLite file path. */
  url: string;
  /** PostgreSQL schema (search_path) to use: tests give each run its own. */
  pgSchema?: string;
  /** Where knex's own warnings go; without it they go to the console. */
  log?: Logger;
}

function knexLog(log: Logger | undefined): Knex.Config['log'] {
  if (!log) return undefined;
  return {
    warn: (message: unknown) => log.warn({ knex: message }, 'database warning'),
    error: (message: unknown) => log.error({ knex: message }, 'database error'),
    deprecate: (method: string, alternative: string) => log.warn(`knex: ${method} is deprecated, use ${alternative}`),
    debug: (message: unknown) => log.debug({ knex: message }, 'database debug'),
  };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function knexConfig({ url, pgSchema, log }: DbOptions): Knex.Config {
  const migrations = { migrationSource };
  const logging = knexLog(log);
  if (isPostgresUrl(url)) {
    return {
      client: 'pg',
      // A dead database must answer within the API's 2-second budget, not after knex's default minute.
      connection: { connectionString: url, connectionTimeoutMillis: 1500 },
      searchPath: pgSchema ? [pgSchema] : undefined,
      pool: { min: 0, max: 10 },
      acquireConnectionTimeout: 1500,
      // Error messages carry the SQL with placeholders, not with the bound values: those are customer data.
      compileSqlOnError: false,
      migrations,
      log: logging,
    };
  }
  if (url !== ':memory:') mkdirSync(dirname(url), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename: url },
    useNullAsDefault: true,
    acquireConnectionTimeout: 1500,
    // Error messages carry the SQL with placeholders, not with the bound values: those are customer data.
    compileSqlOnError: false,
    pool: {
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        // WAL lets readers run beside the one writer; busy_timeout lets several processes share the file.
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('busy_timeout = 5000');
        conn.pragma('foreign_keys = ON');
        done(null, conn);
      },
    },
    migrations,
    log: logging,
  };
}

export function createDb(options: DbOptions): Db {
  return knexFactory(knexConfig(options));
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

/** PostgreSQL returns timestamptz as Date and int8 as string; SQLite returns what was stored. */
export function toIso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** The id of a row from `.returning('id')`: an object on PostgreSQL and SQLite alike today, a bare value in older drivers. */
export function returnedId(row: unknown): string {
  return String(typeof row === 'object' && row ? (row as { id: unknown }).id : row);
}
