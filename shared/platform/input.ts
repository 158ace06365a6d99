// Client input that SQLite, PostgreSQL and FatturaPA all accept, as reusable zod schemas: dates, instants, text, ids and amounts.
import { z } from 'zod';
import { AMOUNT_PATTERN } from './money.js';

/**
 * The years a date or an instant may name. 9999 is the last year YYYY-MM-DD can write: FatturaPA's xs:date, our
 * 10-character date columns and the ISO strings PostgreSQL and SQLite compare as text all break on a fifth digit (and
 * `9999-12-31T23:59:59-14:00` is already year 10000 in UTC). 1900 keeps clear of year 0000, which xs:date and
 * PostgreSQL refuse, and of the local mean times the time zone database gives places before 1900; nothing this back
 * office bills is older.
 */
export const MIN_YEAR = 1900;
/** See MIN_YEAR. */
export const MAX_YEAR = 9999;

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
// An instant as ISO 8601 with its offset: seconds and fractions optional, `Z` or ±hh:mm, nothing else Date.parse guesses at.
const INSTANT_PATTERN = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-](0\d|1[0-4]):[0-5]\d)$/;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A `when` for refine/superRefine: zod 4 runs refinements after issues that do not abort (a failed regex, an unknown
 * key), so a refinement would see values that never parsed. With no fields it runs only when nothing has failed;
 * with fields, only when none of them (nor the value as a whole) has.
 */
export const whenParsed =
  (...fields: string[]) =>
  (payload: z.core.ParsePayload): boolean =>
    fields.length === 0
      ? payload.issues.length === 0
      : !payload.issues.some((issue) =>
          issue.path?.length ? fields.includes(String(issue.path[0])) : issue.code !== 'unrecognized_keys',
        );

/** YYYY-MM-DD naming a real day (29 February only in leap years); the format is the caller's to check. */
export function isCalendarDate(s: string): boolean {
  const year = Number(s.slice(0, 4));
  const month = Number(s.slice(5, 7));
  const day = Number(s.slice(8, 10));
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= DAYS_IN_MONTH[month - 1]!)) return false;
  return month !== 2 || day < 29 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

const yearInRange = (year: number) => year >= MIN_YEAR && year <= MAX_YEAR;
const YEARS = `the year must be from ${MIN_YEAR} to ${MAX_YEAR}`;

/** Why `s` is not a date we accept, or undefined. */
function dateProblem(s: string): string | undefined {
  if (!DATE_PATTERN.test(s)) return 'expected a date as YYYY-MM-DD';
  if (!isCalendarDate(s)) return 'not a calendar date';
  if (!yearInRange(Number(s.slice(0, 4)))) return YEARS;
  return undefined;
}

/** A day as YYYY-MM-DD: a real calendar day in the years MIN_YEAR to MAX_YEAR. */
export const isoDate = z
  .string()
  .superRefine((s, ctx) => {
    const problem = dateProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ format: 'date', example: '2026-11-01' });

/**
 * `s` (a date or an instant with its offset) as a UTC instant, `YYYY-MM-DDTHH:mm:ss.sssZ`; a date stands for the
 * first or the last millisecond of that day in UTC. Returns a problem instead for anything else, or a UTC year outside
 * MIN_YEAR..MAX_YEAR.
 */
export function toUtcInstant(s: string, dateMeans: 'start' | 'end' = 'start'): { instant: string } | { problem: string } {
  if (DATE_PATTERN.test(s)) {
    const problem = dateProblem(s);
    return problem ? { problem } : { instant: `${s}T${dateMeans === 'start' ? '00:00:00.000' : '23:59:59.999'}Z` };
  }
  const match = INSTANT_PATTERN.exec(s);
  if (!match) return { problem: 'expected a date (YYYY-MM-DD) or an ISO 8601 instant with its offset, e.g. 2026-11-01T09:30:00Z' };
  if (!isCalendarDate(match[1]!)) return { problem: 'not a calendar date' };
  const utc = new Date(s);
  if (Number.isNaN(utc.getTime()) || !yearInRange(utc.getUTCFullYear())) return { problem: `${YEARS} (in UTC)` };
  return { instant: utc.toISOString() };
}

const instant = (dateMeans: 'start' | 'end') =>
  z
    .string()
    .max(64, 'expected a date or an ISO 8601 instant')
    .transform((s, ctx) => {
      const result = toUtcInstant(s, dateMeans);
      if ('instant' in result) return result.instant;
      ctx.addIssue({ code: 'custom', message: result.problem });
      return z.NEVER;
    })
    .meta({ example: dateMeans === 'start' ? '2026-11-01' : '2026-11-30T23:59:59Z' });

/** A date or an ISO 8601 instant with its offset, normalised to UTC (a date is its first millisecond): for `from`. */
export const isoInstant = instant('start');
/** As isoInstant, but a date is its last millisecond, so `to=2026-11-30` includes that whole day: for `to`. */
export const isoInstantEnd = instant('end');

// C0 controls but tab, line feed and carriage return: PostgreSQL text refuses NUL, and none of them is text a person meant.
const CONTROL_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;

/** True when `s` holds no NUL nor any other C0 control character except \t, \n and \r. */
export const hasNoControlChars = (s: string): boolean => !CONTROL_CHARS.test(s);

const NO_CONTROL_CHARS = 'must not contain control characters (tab, line feed and carriage return are allowed)';

/** `schema` (a string schema) refusing NUL and the other C0 control characters but \t\n\r. */
export const withoutControlChars = <S extends z.ZodType<string>>(schema: S): S =>
  schema.refine(hasNoControlChars, { message: NO_CONTROL_CHARS, when: whenParsed() }) as S;

/** Free text up to `max` characters that every store accepts: no NUL nor other C0 control characters but \t\n\r. */
export const safeText = (max: number) => withoutControlChars(z.string().max(max));

/**
 * An id as a path segment or a filter carries it: 1 to `max` printable ASCII characters, no space. Any id we make
 * fits (UUIDs, customer ids, report ids); anything else cannot name a row, and would only reach the database.
 */
export const resourceId = (max: number) =>
  z
    .string()
    .max(max)
    .regex(new RegExp(`^[\\x21-\\x7e]{1,${max}}$`), `1 to ${max} printable ASCII characters, no spaces`)
    // An example of the characters ids are made of: generated clients and fuzzers otherwise invent ids of `&`, `#` and `%`.
    .meta({ example: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'.slice(0, max) });

/**
 * An amount of money in the currency's units, as a JSON string or number: positive, at most 11 integer digits and 2
 * decimals ("12.50", 12.5). A number is read as JavaScript writes it, so 1e21 or 0.1 + 0.2 is refused, not rounded.
 */
export const positiveAmount = z
  .union([z.string(), z.number()])
  .transform(String)
  .refine((v) => AMOUNT_PATTERN.test(v) && Number(v) > 0, 'expected a positive amount with at most 2 decimals, e.g. "12.50"')
  .meta({ description: 'Currency units: a decimal string or number with at most 2 decimals.', example: '12.50' });

/** An ISO 4217 currency code. */
export const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR').meta({ example: 'EUR' });
