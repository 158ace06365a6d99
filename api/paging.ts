// The `limit` and `cursor` query parameters every list takes.
import { z } from 'zod';
import { decodeCursor, DEFAULT_LIMIT, MAX_LIMIT } from '../shared/platform/pagination.js';

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
  cursor: z
    .string()
    .optional()
    .refine((c) => c === undefined || decodeCursor(c) !== undefined, 'not a cursor from a previous page'),
});

export function toPageArgs(query: z.output<typeof pageQuery>) {
  return { limit: query.limit, after: query.cursor ? decodeCursor(query.cursor) : undefined };
}
