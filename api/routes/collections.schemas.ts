// What the collection routes answer, for the OpenAPI document: a request, its provider calls, and the request with its data and callbacks.
import { z } from 'zod';
import { ATTEMPT_OUTCOMES, COLLECTION_STATUSES, PROVIDERS } from '../../shared/collections/status.js';
import { instant, links } from '../contract/components.js';
import { callbackSchema } from './invoices.schemas.js';

const status = z.enum(COLLECTION_STATUSES).meta({
  description: '`pending` (not tried yet), `collecting` (a call in flight), `retrying` (the next try is due at `nextAttemptAt`), `succeeded` or `failed` (final).',
  example: 'pending',
});

export const collectionSchema = z
  .object({
    requestId: z.string().meta({ format: 'uuid', description: 'The id to poll and to quote when asking about it.' }),
    provider: z.enum(PROVIDERS),
    status,
    attemptsMade: z.number().int().meta({ description: 'Provider calls that came to an outcome; at COLLECT_MAX_ATTEMPTS the request fails.' }),
    nextAttemptAt: instant.nullable().meta({ description: 'While `pending` or `retrying` with a try scheduled (a backoff, or the provider’s circuit open): when.' }),
    reason: z.string().nullable().meta({ description: 'Why it failed, once `failed`.', example: null }),
    callbackUrl: z.string(),
    createdAt: instant,
    updatedAt: instant,
    completedAt: instant.nullable(),
    links,
  })
  .meta({ id: 'Collection' });

export const collectionAttempt = z
  .object({
    attempt: z.number().int().meta({ description: '1 for the first call; interrupted calls are numbered too.' }),
    startedAt: instant,
    durationMs: z.number().int().nullable().meta({ description: 'Null while the call is in flight.' }),
    outcome: z.enum(ATTEMPT_OUTCOMES).nullable().meta({ description: 'Null while in flight; `interrupted` when its worker died and a later call replaced it.' }),
    statusCode: z.number().int().nullable().meta({ description: "The provider's HTTP status; null when it gave no answer." }),
    error: z.string().nullable(),
    retryAfterMs: z.number().int().nullable().meta({ description: "The provider's Retry-After, when it sent one." }),
    waitMs: z.number().int().nullable().meta({ description: 'The wait drawn before the next try (exponential, full jitter, at most 15 minutes).' }),
  })
  .meta({ id: 'CollectionAttempt' });

export const collectionDetail = collectionSchema
  .extend({
    data: z.unknown().meta({ description: "The provider's JSON document once `succeeded`; null before." }),
    attempts: z.array(collectionAttempt).meta({ description: 'Every provider call, first first.' }),
    callbacks: z.array(callbackSchema),
  })
  .meta({ id: 'CollectionDetail' });
