// A fresh database per test: a temporary SQLite file, or its own PostgreSQL schema when TEST_DATABASE_URL is set.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { createDb, migrateLatest, type Db } from '../../shared/platform/db.js';

export interface TestDb {
  db: Db;
  /** The DATABASE_URL a child process would use to reach the same database. */
  url: string;
  schema: string | undefined;
  destroy(): Promise<void>;
}

export const usingPostgres = (): boolean => Boolean(process.env.TEST_DATABASE_URL);

export async function createTestDb(): Promise<TestDb> {
  const pgUrl = process.env.TEST_DATABASE_URL;
  if (pgUrl) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: pgUrl });
    await admin.raw('create schema ??', [schema]);
    await admin.destroy();
    const db = createDb({ url: pgUrl, pgSchema: schema });
    await migrateLatest(db);
    const separator = pgUrl.includes('?') ? '&' : '?';
    return {
      db,
      // A child process given this URL lands in the same schema.
      url: `${pgUrl}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      schema,
      async destroy() {
        await db.destroy();
        const cleanup = knexFactory({ client: 'pg', connection: pgUrl });
        await cleanup.raw('drop schema ?? cascade', [schema]);
        await cleanup.destroy();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'antaeus-test-'));
  const url = join(dir, 'antaeus.sqlite');
  const db = createDb({ url });
  await migrateLatest(db);
  return {
    db,
    url,
    schema: undefined,
    async destroy() {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
