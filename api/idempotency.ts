// Idempotency-Key for POST requests (Stripe's rules): the same key and body get the first answer, another body 422, a request still running 409.
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { nowIso, toIso } from '../shared/platform/db.js';
import { ApiError } from './errors.js';

/** Keys live a day: after that the same key is a new request. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A request holding its key this long has died with its process; the next one with the key takes over. */
export const IDEMPOTENCY_STALE_MS = 60_000;

export interface StoredResponse {
  status: number;
  body: unknown;
}

export const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** How deep a body may nest, and how many values it may hold, for its fingerprint: far beyond any body a route takes. */
export const FINGERPRINT_MAX_DEPTH = 64;
/** See FINGERPRINT_MAX_DEPTH. */
export const FINGERPRINT_MAX_VALUES = 100_000;

/**
 * The same request hashes the same however its client ordered the body's fields: `{"a":1,"b":2}` is `{"b":2,"a":1}`.
 * It is computed before the route validates the body, so a body nested past FINGERPRINT_MAX_DEPTH (which would
 * overflow the stack) or holding more than FINGERPRINT_MAX_VALUES values is refused here with a 400.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  const budget = { values: FINGERPRINT_MAX_VALUES };
  return createHash('sha256').update(JSON.stringify([method, path, canonical(body ?? null, 0, budget)])).digest('hex');
}

function canonical(value: unknown, depth: number, budget: { values: number }): unknown {
  if (depth > FINGERPRINT_MAX_DEPTH || --budget.values < 0) {
    throw new ApiError(400, 'invalid_request', 'invalid body', [
      { field: 'body', message: `nested deeper than ${FINGERPRINT_MAX_DEPTH} levels or over ${FINGERPRINT_MAX_VALUES} values` },
    ]);
  }
  if (Array.isArray(value)) return value.map((v) => canonical(v, depth + 1, budget));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k], depth + 1, budget)]),
  );
}

/** The use of a key a request serves, handed to the handler. */
export interface KeyUse {
  /**
   * When this use of the key began (ISO 8601): the same for a request that takes over an abandoned one, new when the key
   * is used again after its 24 hours. What the handler derives from the key (an id) should derive from this too.
   */
  readonly createdAt: string;
  /**
   * Whether a failure from here on leaves something a retry must find (a row written, a job queued): then the key is kept
   * in progress, for a retry to take over after IDEMPOTENCY_STALE_MS and find it, rather than let go for a new request.
   * The handler sets it once it has written something and clears it if it has undone that. @defaultValue false
   */
  holdOnFailure: boolean;
}

/**
 * Runs `handle` once per (user, key): the first request stores its answer, a repeat replays it. Only answers the
 * handler produced are stored; when it throws (bad input, Redis down) the key is let go, so a corrected retry may use it,
 * unless the handler has set `holdOnFailure`. `handle` is told which use of the key it serves (see KeyUse).
 */
export async function idempotent(
  db: Knex,
  scope: { userId: string; key: string; fingerprint: string },
  handle: (use: KeyUse) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const { userId, key, fingerprint } = scope;
  for (let tries = 0; ; tries++) {
    const now = new Date();
    const at = now.toISOString();
    const inserted = await db('idempotency_keys')
      .insert({ user_id: userId, key, request_hash: fingerprint, status: 'in_progress', created_at: at, locked_at: at })
      .onConflict(['user_id', 'key'])
      .ignore()
      .returning('key');
    if (inserted.length === 1) return { ...(await runAndStore(db, userId, key, at, at, handle)), replayed: false };

    const row = await db('idempotency_keys').first('*').where({ user_id: userId, key });
    if (!row) continue; // let go of meanwhile: try to take it
    const createdAt = toIso(row.created_at);
    if (Date.parse(createdAt) < now.getTime() - IDEMPOTENCY_TTL_MS) {
      await db('idempotency_keys').where({ user_id: userId, key, created_at: row.created_at }).delete();
      if (tries < 3) continue;
    }
    if (row.request_hash !== fingerprint) {
      throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with another request; use a new key');
    }
    if (row.status === 'done') return { status: Number(row.response_status), body: JSON.parse(String(row.response_body)), replayed: true };
    const lockedAt = toIso(row.locked_at);
    if (Date.parse(lockedAt) < now.getTime() - IDEMPOTENCY_STALE_MS) {
      const taken = await db('idempotency_keys').where({ user_id: userId, key, locked_at: row.locked_at, status: 'in_progress' }).update({ locked_at: at });
      if (taken === 1) return { ...(await runAndStore(db, userId, key, at, createdAt, handle)), replayed: false };
    }
    throw new ApiError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still being processed; retry shortly');
  }
}

async function runAndStore(
  db: Knex,
  userId: string,
  key: string,
  lockedAt: string,
  createdAt: string,
  handle: (use: KeyUse) => Promise<StoredResponse>,
): Promise<StoredResponse> {
  const use: KeyUse = { createdAt, holdOnFailure: false };
  let response: StoredResponse;
  try {
    response = await handle(use);
  } catch (err) {
    if (!use.holdOnFailure) await db('idempotency_keys').where({ user_id: userId, key, locked_at: lockedAt }).delete().catch(() => undefined);
    throw err;
  }
  // Only while the key is still ours: a request that took it over after IDEMPOTENCY_STALE_MS stores its own answer.
  await db('idempotency_keys')
    .where({ user_id: userId, key, locked_at: lockedAt, status: 'in_progress' })
    .update({ status: 'done', response_status: response.status, response_body: JSON.stringify(response.body), locked_at: nowIso() });
  return response;
}

/**
 * Serves a POST that honours an `Idempotency-Key`: checks the header, runs `handle` once per (user, key) through
 * {@link idempotent} when there is one (and plainly when not), and marks a replayed answer `Idempotent-Replayed`.
 * `path` names the route in the fingerprint, so one key cannot be replayed across routes.
 */
export async function answerIdempotently(
  db: Knex,
  req: Request,
  res: Response,
  path: string,
  handle: (use?: KeyUse) => Promise<StoredResponse>,
): Promise<StoredResponse> {
  const key = req.get('idempotency-key');
  if (key === undefined) return handle();
  if (!KEY_PATTERN.test(key)) {
    throw new ApiError(400, 'invalid_request', 'invalid Idempotency-Key', [{ field: 'Idempotency-Key', message: '1 to 255 printable ASCII characters' }]);
  }
  const { userId } = res.locals.principal as { userId: string };
  const answer = await idempotent(db, { userId, key, fingerprint: requestFingerprint('POST', path, req.body) }, handle);
  if (answer.replayed) res.set('Idempotent-Replayed', 'true');
  return answer;
}
