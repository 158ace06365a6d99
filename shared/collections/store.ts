// Collection persistence: the request written before the 202, each provider call's start and outcome as compare-and-set writes that record the callback alongside, reads and lists.
import type { Knex } from 'knex';
import type { Actor } from '../access/actors.js';
import { isOperator, type Principal } from '../access/principal.js';
import { recordCallback } from '../callbacks/messages.js';
import { nowIso, toIso } from '../platform/db.js';
import { keysetPage, toPage, type Page, type PageArgs } from '../platform/pagination.js';
import { collectionCallbackData, toAttempt, toCollection, type Collection, type CollectionAttempt } from './collection.js';
import { UNFINISHED_COLLECTION_STATUSES, type CollectionStatus, type Provider } from './status.js';

type Row = Record<string, unknown>;

export interface NewCollection {
  id: string;
  userId: string;
  provider: Provider;
  callbackUrl: string;
  actor: Actor;
}

/** Writes a `pending` request: from here the work is owed, whatever happens to its job. */
export async function insertCollection(db: Knex, c: NewCollection): Promise<Collection> {
  const at = nowIso();
  await db('collections').insert({
    id: c.id,
    user_id: c.userId,
    provider: c.provider,
    callback_url: c.callbackUrl,
    status: 'pending',
    attempts: 0,
    created_at: at,
    created_by: c.actor,
    updated_at: at,
  });
  return (await findCollection(db, c.id))!;
}

export async function findCollection(db: Knex, id: string): Promise<Collection | undefined> {
  const row = await db('collections').first('*').where({ id });
  return row ? toCollection(row) : undefined;
}

/** A request is its asker's: a client sees its own, an operator every one; otherwise undefined, as for one that does not exist. */
function scopeToAsker(query: Knex.QueryBuilder, principal: Principal): Knex.QueryBuilder {
  return isOperator(principal) ? query : query.where('collections.user_id', principal.userId);
}

export async function findVisibleCollection(db: Knex, principal: Principal, id: string): Promise<Collection | undefined> {
  const row = await scopeToAsker(db('collections').first('*').where('collections.id', id), principal);
  return row ? toCollection(row) : undefined;
}

export interface CollectionFilters {
  status?: CollectionStatus;
  provider?: Provider;
}

export async function listCollections(db: Knex, principal: Principal, filters: CollectionFilters, page: PageArgs): Promise<Page<Collection>> {
  const query = scopeToAsker(db('collections').select('collections.*'), principal);
  if (filters.status) query.where('collections.status', filters.status);
  if (filters.provider) query.where('collections.provider', filters.provider);
  const rows: Row[] = await keysetPage(query, 'collections', page.limit, page.after);
  return toPage(rows.map(toCollection), page.limit);
}

/** Every provider call of a request, first first. */
export async function listAttempts(db: Knex, id: string): Promise<CollectionAttempt[]> {
  const rows: Row[] = await db('collection_attempts').select('*').where({ collection_id: id }).orderBy('attempt');
  return rows.map(toAttempt);
}

/**
 * Marks the request `collecting` and writes the call's start, if the request is unfinished: a worker that dies
 * mid-call leaves a trace, and the next try marks it `interrupted`. Returns the call's number (interrupted calls
 * included), or undefined when the request is finished already.
 */
export async function beginAttempt(db: Knex, id: string): Promise<number | undefined> {
  const at = nowIso();
  return db.transaction(async (trx) => {
    const moved = await trx('collections')
      .where({ id })
      .whereIn('status', UNFINISHED_COLLECTION_STATUSES)
      .update({ status: 'collecting', next_attempt_at: null, updated_at: at });
    if (moved !== 1) return undefined;
    await trx('collection_attempts').where({ collection_id: id }).whereNull('outcome').update({ outcome: 'interrupted' });
    const last = await trx('collection_attempts').where({ collection_id: id }).max({ n: 'attempt' }).first();
    const attempt = Number(last?.n ?? 0) + 1;
    await trx('collection_attempts').insert({ collection_id: id, attempt, started_at: at });
    return attempt;
  });
}

/** How a provider call ended, as the attempt row records it. */
export interface CallResult {
  durationMs: number;
  statusCode: number | null;
  error?: string | null;
  retryAfterMs?: number | null;
}

/** What an outcome wrote: the request as it now stands, and the callback messages to enqueue once committed. */
export interface Settled {
  collection: Collection;
  messageIds: string[];
}

/**
 * A run's outcome counts only while its call is the request's latest and unsettled: a run that lost its job (its
 * lock expired while it still ran) and was superseded by a later call writes nothing, and the later call decides.
 * Thrown inside the transaction to roll back the request's update; the functions below answer undefined for it.
 */
class Superseded extends Error {}

/** Runs `write` in a transaction; undefined when the request was not in `collecting` or the call was superseded. */
async function settleCall<T>(db: Knex, write: (trx: Knex.Transaction) => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await db.transaction(write);
  } catch (err) {
    if (err instanceof Superseded) return undefined;
    throw err;
  }
}

/** The provider answered with a document: `succeeded`, the data stored and the `collection.succeeded` callback recorded, in one transaction. */
export async function recordSuccess(db: Knex, id: string, attempt: number, call: CallResult, data: unknown): Promise<Settled | undefined> {
  const at = nowIso();
  return settleCall(db, async (trx) => {
    // The request's row first, as beginAttempt takes it, so two transactions never wait on each other's rows in turn.
    const moved = await trx('collections')
      .where({ id, status: 'collecting' })
      .update({ status: 'succeeded', data: JSON.stringify(data), attempts: trx.raw('attempts + 1'), reason: null, updated_at: at, completed_at: at });
    if (moved !== 1) return undefined;
    await finishAttemptRow(trx, id, attempt, 'succeeded', call);
    return settle(trx, id, 'collection.succeeded');
  });
}

/** The call failed in a way worth another try: `retrying`, with the wait drawn and when the next try is due. */
export async function recordRetry(db: Knex, id: string, attempt: number, call: CallResult, waitMs: number): Promise<Collection | undefined> {
  const at = new Date();
  return settleCall(db, async (trx) => {
    const moved = await trx('collections')
      .where({ id, status: 'collecting' })
      .update({ status: 'retrying', attempts: trx.raw('attempts + 1'), next_attempt_at: new Date(at.getTime() + waitMs).toISOString(), updated_at: at.toISOString() });
    if (moved !== 1) return undefined;
    await finishAttemptRow(trx, id, attempt, 'retrying', call, waitMs);
    return toCollection(await trx('collections').first('*').where({ id }));
  });
}

/**
 * The request failed for good (refused, or out of attempts): `failed` with the reason and the `collection.failed`
 * callback recorded, in one transaction. `call` is the provider call that failed it, when one did; without it (a give-up
 * hook after errors of our own, a provider with no URL) no attempt is counted.
 */
export async function recordFailure(db: Knex, id: string, reason: string, call?: { attempt: number } & CallResult): Promise<Settled | undefined> {
  const at = nowIso();
  return settleCall(db, async (trx) => {
    const moved = await trx('collections')
      .where({ id })
      .whereIn('status', call ? ['collecting'] : UNFINISHED_COLLECTION_STATUSES)
      .update({
        status: 'failed',
        reason,
        next_attempt_at: null,
        ...(call ? { attempts: trx.raw('attempts + 1') } : {}),
        updated_at: at,
        completed_at: at,
      });
    if (moved !== 1) return undefined;
    if (call) await finishAttemptRow(trx, id, call.attempt, 'failed', call);
    return settle(trx, id, 'collection.failed');
  });
}

/** The provider's circuit is open: nothing was tried; the request says when it will be. */
export async function recordCircuitWait(db: Knex, id: string, waitMs: number): Promise<void> {
  const at = new Date();
  await db('collections')
    .where({ id })
    .whereIn('status', ['pending', 'retrying'])
    .update({ next_attempt_at: new Date(at.getTime() + waitMs).toISOString(), updated_at: at.toISOString() });
}

/** Writes the call's outcome, if the call is still in flight: otherwise a later call has superseded it, and the transaction is rolled back. */
async function finishAttemptRow(trx: Knex.Transaction, id: string, attempt: number, outcome: string, call: CallResult, waitMs?: number): Promise<void> {
  const finished = await trx('collection_attempts')
    .where({ collection_id: id, attempt })
    .whereNull('outcome')
    .update({
      outcome,
      duration_ms: Math.round(call.durationMs),
      status_code: call.statusCode,
      error: call.error ?? null,
      retry_after_ms: call.retryAfterMs ?? null,
      wait_ms: waitMs ?? null,
    });
  if (finished !== 1) throw new Superseded(`call ${attempt} of collection ${id} was superseded by a later call`);
}

/** Records the request's final callback: one message per final status, however often this runs. */
async function settle(trx: Knex.Transaction, id: string, type: 'collection.succeeded' | 'collection.failed'): Promise<Settled> {
  const collection = toCollection(await trx('collections').first('*').where({ id }));
  const messageId = await recordCallback(trx, {
    userId: collection.userId,
    url: collection.callbackUrl,
    type,
    data: collectionCallbackData(collection),
    resource: { type: 'collection', id },
    eventKey: collection.status,
  });
  return { collection, messageIds: [messageId] };
}

export interface UnfinishedCollection {
  id: string;
  status: CollectionStatus;
  nextAttemptAt: string | null;
}

/** A page of the requests not finished, by id after `afterId`: what the sweep walks to find collections whose job is gone. */
export async function unfinishedCollections(db: Knex, afterId: string | null, limit: number): Promise<UnfinishedCollection[]> {
  const query = db('collections').select('id', 'status', 'next_attempt_at').whereIn('status', UNFINISHED_COLLECTION_STATUSES).orderBy('id').limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Row) => ({ id: String(r.id), status: r.status as CollectionStatus, nextAttemptAt: r.next_attempt_at == null ? null : toIso(r.next_attempt_at) }));
}
