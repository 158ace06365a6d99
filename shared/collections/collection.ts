// A collection request as the worker and the API see it: the row's shape, its attempts, its public JSON and its callbacks' data.
import { toIso, toNumber } from '../platform/db.js';
import type { AttemptOutcome, CollectionStatus, Provider } from './status.js';

export interface Collection {
  /** The requestId a client polls. */
  id: string;
  /** Who asked: they see it, and hear of it at its callback URL signed with their secret. */
  userId: string;
  provider: Provider;
  callbackUrl: string;
  status: CollectionStatus;
  /** Provider calls with an outcome (not interrupted ones): what counts toward COLLECT_MAX_ATTEMPTS. */
  attempts: number;
  /** While `retrying`, or while waiting for the provider's circuit: when the next try is due. */
  nextAttemptAt: string | null;
  /** Why it failed, once `failed`. */
  reason: string | null;
  /** The provider's document, as received, once `succeeded`. */
  data: unknown;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  completedAt: string | null;
}

/** One provider call: when, how long, what came of it. */
export interface CollectionAttempt {
  attempt: number;
  startedAt: string;
  /** Null while the call is in flight. */
  durationMs: number | null;
  /** Null while the call is in flight. */
  outcome: AttemptOutcome | null;
  /** The provider's HTTP status, when it answered. */
  statusCode: number | null;
  error: string | null;
  /** What the provider's Retry-After asked for. */
  retryAfterMs: number | null;
  /** The wait drawn before the next try, when there was one. */
  waitMs: number | null;
}

type Row = Record<string, unknown>;

const nullableIso = (v: unknown): string | null => (v == null ? null : toIso(v));
const nullableNumber = (v: unknown): number | null => (v == null ? null : toNumber(v));

export function toCollection(r: Row): Collection {
  return {
    id: String(r.id),
    userId: String(r.user_id),
    provider: r.provider as Provider,
    callbackUrl: String(r.callback_url),
    status: r.status as CollectionStatus,
    attempts: toNumber(r.attempts ?? 0),
    nextAttemptAt: nullableIso(r.next_attempt_at),
    reason: (r.reason as string | null) ?? null,
    data: typeof r.data === 'string' ? (JSON.parse(r.data) as unknown) : null,
    createdAt: toIso(r.created_at),
    createdBy: String(r.created_by),
    updatedAt: toIso(r.updated_at),
    completedAt: nullableIso(r.completed_at),
  };
}

export function toAttempt(r: Row): CollectionAttempt {
  return {
    attempt: toNumber(r.attempt),
    startedAt: toIso(r.started_at),
    durationMs: nullableNumber(r.duration_ms),
    outcome: (r.outcome as AttemptOutcome | null) ?? null,
    statusCode: nullableNumber(r.status_code),
    error: (r.error as string | null) ?? null,
    retryAfterMs: nullableNumber(r.retry_after_ms),
    waitMs: nullableNumber(r.wait_ms),
  };
}

/** The public JSON shape, as lists show it (GET on the request adds the data and the attempts); the next try's time only while one is due. */
export function collectionView(c: Collection) {
  return {
    requestId: c.id,
    provider: c.provider,
    status: c.status,
    attemptsMade: c.attempts,
    nextAttemptAt: c.status === 'pending' || c.status === 'retrying' ? c.nextAttemptAt : null,
    reason: c.reason,
    callbackUrl: c.callbackUrl,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    completedAt: c.completedAt,
    links: { self: `/v1/collections/${c.id}` },
  };
}

/** What the `collection.succeeded` and `collection.failed` callbacks carry: the outcome, and the data when there is some. */
export function collectionCallbackData(c: Collection) {
  return {
    requestId: c.id,
    provider: c.provider,
    status: c.status,
    attemptsMade: c.attempts,
    ...(c.status === 'succeeded' ? { data: c.data } : { reason: c.reason }),
    completedAt: c.completedAt,
  };
}
