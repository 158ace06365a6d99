// Keyset pagination for lists: the `limit` and `cursor` every list takes, newest first by (created_at, id), an opaque cursor.
import type { Knex } from 'knex';
import { z } from 'zod';
import { resourceId, toUtcInstant } from './input.js';

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

/** The longest cursor encodeCursor makes (an ISO instant and an id of up to 64 characters), with room to spare. */
const MAX_CURSOR_LENGTH = 256;
const CURSOR_ID = resourceId(64);

/**
 * Returns undefined for a cursor that was not made by encodeCursor. A cursor is not signed, so a client can forge one:
 * it is checked as fully as input, since both parts reach the database (PostgreSQL refuses a timestamp it cannot read,
 * or a NUL in an id, with an error rather than an empty page).
 */
export function decodeCursor(cursor: string): CursorKey | undefined {
  if (cursor.length > MAX_CURSOR_LENGTH) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined; // not a cursor of ours
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [createdAt, id] = parsed as unknown[];
  // Only the exact form encodeCursor writes: a UTC instant with milliseconds, in the years every store can hold.
  if (typeof createdAt !== 'string') return undefined;
  const instant = toUtcInstant(createdAt);
  if (!('instant' in instant) || instant.instant !== createdAt) return undefined;
  if (!CURSOR_ID.safeParse(id).success) return undefined;
  return { createdAt, id: id as string };
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
  // Digits only: a coercion would also take `0x10`, ` 5` or `1e2`, numbers no client meant to write.
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LIMIT))
    // prefault, not default: the default goes through the parse, so it arrives as the number it stands for.
    .prefault(String(DEFAULT_LIMIT))
    .meta({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: `Items per page, 1 to ${MAX_LIMIT}.` }),
  // Decoded here, once: the handler receives the position the cursor stands for.
  cursor: z
    .string()
    .transform((c, ctx) => decodeCursor(c) ?? (ctx.addIssue({ code: 'custom', message: 'not a cursor from a previous page' }), z.NEVER))
    .optional()
    .meta({ description: 'The `nextCursor` of the previous page; omit for the first page.' }),
});

export function toPageArgs(query: z.output<typeof pageQuery>): PageArgs {
  return { limit: query.limit, after: query.cursor };
}
