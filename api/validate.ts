// Request parsing with zod: a failed parse becomes a 400 listing the failing fields (unknown ones named too).
import type { z } from 'zod';
import { invalid, type InputPart } from './errors.js';

/**
 * `value` (a request's body, query or path parameters) parsed by `schema`, or a 400 naming `where` and each failing
 * field. A missing body reads as `{}`, so a body whose fields are all optional may be left out.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: InputPart): z.output<S> {
  const result = schema.safeParse(where === 'body' ? (value ?? {}) : value);
  if (!result.success) throw invalid(result.error, where);
  return result.data;
}
