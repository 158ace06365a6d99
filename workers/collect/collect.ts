// collect/collect: one GET to the request's data provider per attempt; the outcome (succeeded, retrying with the wait drawn, failed) written with its callback.
import { UnrecoverableError } from 'bullmq';
import type { JobData } from '../../queues/jobs.js';
import { backoffDelay, collectBackoff } from '../../queues/policy.js';
import { enqueueDelivery, pendingMessageIdsAbout } from '../../shared/callbacks/messages.js';
import { ProviderRefusedError, ProviderUnavailableError, type ProviderAnswer } from '../../shared/collections/provider.js';
import { isFinalCollectionStatus, type CollectionStatus } from '../../shared/collections/status.js';
import {
  beginAttempt,
  findCollection,
  recordCircuitWait,
  recordFailure,
  recordRetry,
  recordSuccess,
  type CallResult,
  type Settled,
} from '../../shared/collections/store.js';
import { CircuitOpenError } from '../../shared/platform/errors/circuit-open.js';
import { NotDueError } from '../../shared/platform/errors/not-due.js';
import { ScheduledRetryError } from '../../shared/platform/errors/scheduled-retry.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'collect', 'collect'>;

export interface CollectResult {
  status: CollectionStatus;
  /** The provider call this run made, when it made one. */
  attempt?: number;
}

/** How early a job may run before its request's next try is due, for clocks of different hosts that disagree a little. */
const DUE_TOLERANCE_MS = 100;

/**
 * The maximum (COLLECT_MAX_ATTEMPTS) is counted in the database, calls with an outcome, not by BullMQ: a job the
 * sweep queued again after Redis lost it starts BullMQ's count afresh, and must not get ten more tries; and BullMQ
 * also counts failures of ours (the database), which are not the provider's. Should the job's own budget run out
 * first, its last attempt ends the request too.
 */
export async function collectData({ requestId }: Payload, ctx: JobContext): Promise<CollectResult> {
  const { db, log } = ctx;
  const collection = await findCollection(db, requestId);
  if (!collection) throw new UnrecoverableError(`collection ${requestId} does not exist`);
  if (isFinalCollectionStatus(collection.status)) {
    // Its outcome is written: queue the callback a run that died after the commit may have left unqueued.
    await queueCallbacks(ctx, await pendingMessageIdsAbout(db, { type: 'collection', id: requestId }), requestId);
    return { status: collection.status };
  }
  const maxAttempts = ctx.config.collectMaxAttempts;
  if (collection.attempts >= maxAttempts) {
    // Tried as often as allowed already (COLLECT_MAX_ATTEMPTS was lowered since): fail it without another call.
    return fail(ctx, requestId, `failed after ${collection.attempts} attempts (COLLECT_MAX_ATTEMPTS is ${maxAttempts})`);
  }
  // The wait the client was shown holds even when the job comes early: its worker died before BullMQ delayed it, or
  // the sweep queued it again. A Retry-After is honoured whatever happened to the job.
  const dueInMs = collection.nextAttemptAt ? Date.parse(collection.nextAttemptAt) - Date.now() : 0;
  if ((collection.status === 'pending' || collection.status === 'retrying') && dueInMs > DUE_TOLERANCE_MS) {
    throw new NotDueError(`collection ${requestId} is not due for ${dueInMs} ms`, dueInMs);
  }

  let attempt: number | undefined;
  let started = 0;
  let answer: ProviderAnswer | undefined;
  try {
    answer = await ctx.services.dataProviders.call(collection.provider, async (client) => {
      // Written only once the circuit lets the call through: a wait for the breaker is not an attempt.
      attempt = await beginAttempt(db, requestId);
      if (attempt === undefined) return undefined;
      started = performance.now();
      return client.fetchDocument(requestId);
    });
  } catch (err) {
    if (err instanceof CircuitOpenError) {
      await recordCircuitWait(db, requestId, err.retryAfterMs ?? ctx.config.collectBreakerResetMs);
      throw err; // the fleet delays this job for the wait without spending an attempt
    }
    // No URL for the provider: no call can ever be made, so fail now rather than through every attempt.
    if (attempt === undefined && err instanceof ProviderRefusedError) return fail(ctx, requestId, err.message);
    // Before any call (the database failed): retried like any error of ours, with nothing counted against the provider.
    if (attempt === undefined) throw err;
    const call: CallResult = {
      durationMs: performance.now() - started,
      statusCode: err instanceof ProviderUnavailableError || err instanceof ProviderRefusedError ? err.statusCode : null,
      error: (err as Error).message,
      retryAfterMs: err instanceof ProviderUnavailableError ? (err.retryAfterMs ?? null) : null,
    };
    if (err instanceof ProviderRefusedError) return fail(ctx, requestId, err.message, { attempt, ...call });
    if (!(err instanceof ProviderUnavailableError)) throw err;
    const n = collection.attempts + 1;
    if (n >= maxAttempts || ctx.job.attempt >= ctx.job.maxAttempts) {
      return fail(ctx, requestId, `failed after ${n} attempts; the last: ${err.message}`, { attempt, ...call });
    }
    const waitMs = backoffDelay(collectBackoff(ctx.config), n, ctx.services.random, err.retryAfterMs);
    if (!(await recordRetry(db, requestId, attempt, call, waitMs))) throw superseded(requestId, attempt);
    log.warn({ requestId, provider: collection.provider, statusCode: call.statusCode, waitMs }, `collection attempt ${n} of ${maxAttempts} failed: ${err.message}; next try in ${waitMs} ms`);
    throw new ScheduledRetryError(err.message, waitMs);
  }

  if (attempt === undefined || !answer) {
    // Another run finished it between our read and our start.
    return { status: (await findCollection(db, requestId))!.status };
  }
  const settled = await recordSuccess(db, requestId, attempt, { durationMs: performance.now() - started, statusCode: answer.statusCode }, answer.data);
  if (!settled) {
    const now = (await findCollection(db, requestId))!;
    if (!isFinalCollectionStatus(now.status)) throw superseded(requestId, attempt);
    return { status: now.status, attempt };
  }
  await queueSettled(ctx, settled, requestId);
  log.info({ requestId, provider: collection.provider, attempt }, 'collection succeeded');
  return { status: settled.collection.status, attempt };
}

/**
 * This run's call was superseded by a later one (this run lost its job's lock and another took the job): its outcome
 * is dropped and the later call decides. Thrown, never returned, so a job that still holds its lock is retried rather
 * than completed with its request unfinished.
 */
function superseded(requestId: string, attempt: number): Error {
  return new Error(`call ${attempt} of collection ${requestId} was superseded by a later call; its outcome is not recorded`);
}

/** The last attempt failed for another reason than the provider (our database, say): the request is failed with that reason. */
export async function giveUpCollecting({ requestId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  const settled = await recordFailure(ctx.db, requestId, `gave up: ${error.message}`);
  await queueSettled(ctx, settled, requestId);
}

/**
 * Fails the request for good with its `collection.failed` callback, and ends the job unrecoverable: it stays in the
 * failed set, the DLQ, with the reason, for someone to review.
 */
async function fail(ctx: JobContext, requestId: string, reason: string, call?: { attempt: number } & CallResult): Promise<never> {
  const settled = await recordFailure(ctx.db, requestId, reason, call);
  if (!settled && call && !isFinalCollectionStatus((await findCollection(ctx.db, requestId))!.status)) throw superseded(requestId, call.attempt);
  await queueSettled(ctx, settled, requestId);
  ctx.log.error({ requestId, reason }, 'collection critically failed');
  throw new UnrecoverableError(`collection ${requestId} failed: ${reason}`);
}

async function queueSettled(ctx: JobContext, settled: Settled | undefined, requestId: string): Promise<void> {
  if (settled) await queueCallbacks(ctx, settled.messageIds, requestId);
}

/** The outcome is committed: a callback not queued now (Redis down) is still a pending message, which the sweep queues. */
async function queueCallbacks(ctx: JobContext, messageIds: string[], requestId: string): Promise<void> {
  for (const messageId of messageIds) {
    await enqueueDelivery(ctx.queues, messageId).catch((err: unknown) => ctx.log.warn({ err, requestId, messageId }, 'callback not queued now; the sweep will'));
  }
}
