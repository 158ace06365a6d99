// The shapes every route shares in the OpenAPI document: the error body, the rate-limit headers, list pages, ids and the auth scheme.
import type { ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

/** Every failure answers this shape: a code to branch on, a message for people, and the failing fields for a 400. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable, machine-readable: `invalid_request`, `not_found`, `rate_limited`, …', example: 'invalid_request' }),
      message: z.string().meta({ example: 'invalid body' }),
      details: z
        .unknown()
        .meta({
          description: 'For `invalid_request`: a list of `{ field, message }`, one per failing or unknown field; otherwise null or an object.',
          example: [{ field: 'lines.0.unitPrice', message: 'expected a decimal with at most 8 decimals' }],
        }),
    }),
  })
  .meta({ id: 'Error' });

/** The IETF rate-limit headers every authenticated answer carries. */
export const rateLimitHeaders = z.object({
  'RateLimit-Policy': z.string().meta({ description: 'The caller’s quota and its window (draft-ietf-httpapi-ratelimit-headers).' }),
  RateLimit: z.string().meta({ description: 'What is left of the quota and the seconds until it refills.' }),
});

const retryAfter = z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait before trying again.', example: '1' }) });

/** An error answer for the document: the error body, the rate-limit headers when the route is limited, Retry-After when it says when to come back. */
export function errorResponse(status: number, description: string, limited: boolean, withRetryAfter = false): ResponseConfig {
  let headers: z.ZodObject | undefined = limited ? rateLimitHeaders : undefined;
  if (withRetryAfter) headers = headers ? headers.extend(retryAfter.shape) : retryAfter;
  return { description, content: { 'application/json': { schema: errorBody } }, ...(headers ? { headers } : {}) };
}

/** A list answer: one page of items, and the cursor of the next page (null on the last). */
export const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z
    .object({
      data: z.array(item),
      nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
    })
    .meta({ id });

/** Links to related resources, as paths below the API root. */
export const links = z.record(z.string(), z.string()).meta({ description: 'Paths of related resources.', example: { self: '/v1/…' } });

/** A timestamp the API writes: an ISO 8601 instant in UTC. */
export const instant = z.string().meta({ format: 'date-time', example: '2026-11-29T10:15:30.000Z' });
/** A calendar day: YYYY-MM-DD. */
export const day = z.string().meta({ format: 'date', example: '2026-11-01' });
/** An amount in currency units as a decimal string, e.g. "1220.00". */
export const amount = z.string().meta({ description: 'Currency units, as a decimal string with two decimals.', example: '1220.00' });

/** The Idempotency-Key header a POST may carry (Stripe's rules). */
export const idempotencyKeyHeader = z.object({
  'Idempotency-Key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/)
    .optional()
    .meta({
      description:
        'Up to 255 printable ASCII characters. The same key and body within 24 hours get the first answer again (with `Idempotent-Replayed: true`); another body, 422; while the first request runs, 409.',
      example: '7b0f3c8e-order-42',
    }),
});

export const BEARER_SCHEME = 'bearerAuth';
