// Keyset pagination for lists: newest first by (created_at, id), an opaque cursor, `limit` from 1 to 500.
import type { Knex } from 'knex';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

interface CursorKey {
  createdAt: string;
  id: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.createdAt, key.id])).toString('base64url');
}

/** Returns undefined for a cursor that was not made by encodeCursor. */
export function decodeCursor(cursor: string): CursorKey | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((p) => typeof p === 'string')) {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through: not a cursor of ours
  }
  return undefined;
}

/** Orders a query newest first and starts it after the cursor; fetches one row more to know if a next page exists. */
export function keysetPage(query: Knex.QueryBuilder, table: string, limit: number, after: CursorKey | undefined): Knex.QueryBuilder {
  if (after) {
    query.where((q) =>
      q
        .where(`${table}.created_at`, '<', after.createdAt)
        .orWhere((q2) => q2.where(`${table}.created_at`, '=', after.createdAt).andWhere(`${table}.id`, '<', after.id)),
    );
  }
  return query.orderBy([
    { column: `${table}.created_at`, order: 'desc' },
    { column: `${table}.id`, order: 'desc' },
  ]).limit(limit + 1);
}

export function toPage<T extends CursorKey>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
