// Keyset pagination for lists: the `limit` and `cursor` every list takes, newest first by (created_at, id), an opaque cursor.
import type { Knex } from 'knex';
import { z } from 'zod';

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

/** A page as a list asks for it: how many, and after which row. */
export interface PageArgs {
  limit: number;
  after?: CursorKey;
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

/** The query parameters every list takes: `limit` from 1 to 500 (50 unless given), and the `cursor` of the previous page. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
  cursor: z
    .string()
    .optional()
    .refine((c) => c === undefined || decodeCursor(c) !== undefined, 'not a cursor from a previous page'),
});

export function toPageArgs(query: z.output<typeof pageQuery>): PageArgs {
  return { limit: query.limit, after: query.cursor ? decodeCursor(query.cursor) : undefined };
}
