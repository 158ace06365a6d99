// Request parsing with zod: a failed parse becomes a 400 listing the failing fields.
import type { z } from 'zod';
import { invalid } from './errors.js';

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw invalid(result.error, 'body');
  return result.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const result = schema.safeParse(query);
  if (!result.success) throw invalid(result.error, 'query');
  return result.data;
}
