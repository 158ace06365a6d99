// Data collection routes: ask for a provider's data (validate, write the request, queue its job), read one with every attempt and its data, list the caller's.
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { listCallbacks } from '../../shared/callbacks/messages.js';
import { collectionView, type Collection } from '../../shared/collections/collection.js';
import { COLLECTION_STATUSES, PROVIDERS } from '../../shared/collections/status.js';
import { findCollection, findVisibleCollection, insertCollection, listAttempts, listCollections } from '../../shared/collections/store.js';
import { isUniqueViolation } from '../../shared/platform/errors/unique-violation.js';
import { newId, stableId } from '../../shared/platform/ids.js';
import { resourceId, withoutControlChars } from '../../shared/platform/input.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { errorBody, idempotencyKeyHeader, pageOf } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { notFound } from '../errors.js';
import { assertCallbackUrl } from '../guards.js';
import { answerIdempotently, type KeyUse, type StoredResponse } from '../idempotency.js';
import { RATE_COST } from '../rate-limit.js';
import { collectionDetail, collectionSchema } from './collections.schemas.js';

const collectionRequest = z
  .strictObject({
    provider: z.enum(PROVIDERS).meta({ description: 'Whose bill to fetch.', example: 'gas' }),
    callbackUrl: withoutControlChars(z.url({ protocol: /^https?$/ }).max(2048)).meta({
      description: 'Where the outcome is posted: `collection.succeeded` with the data, or `collection.failed` with the reason.',
      example: 'https://accounts.example.com/hooks/antaeus',
    }),
  })
  .meta({ id: 'CollectionRequest' });

const listQuery = z.strictObject({
  ...pageQuery.shape,
  status: z.enum(COLLECTION_STATUSES).optional(),
  provider: z.enum(PROVIDERS).optional(),
});

const idParams = z.strictObject({ requestId: resourceId(64).meta({ description: 'The requestId the POST answered.' }) });

export function collectionsRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'post',
      path: '/collections',
      operationId: 'createCollection',
      summary: "Fetch a provider's data, retried until it answers",
      description:
        "Writes the request (`pending`) and queues its collection: the provider is asked, and asked again with exponential backoff (full jitter, at most 15 minutes apart) while it fails or is unreachable, up to COLLECT_MAX_ATTEMPTS tries. The outcome is posted to `callbackUrl`, signed (Standard Webhooks); poll `links.self` to watch every attempt. With an `Idempotency-Key` a retried request answers the first answer and never asks twice.",
      tag: 'collections',
      audience: 'client',
      headers: idempotencyKeyHeader,
      body: collectionRequest,
      cost: RATE_COST.write,
      responses: {
        202: { description: 'Accepted: the request, `pending`.', schema: collectionSchema, headers: z.object({ 'Idempotent-Replayed': z.string().optional() }) },
        409: { description: 'A request with this Idempotency-Key is still running.', schema: errorBody },
        422: { description: 'This Idempotency-Key was used with another body.', schema: errorBody },
      },
    },
    async ({ body: input }, req, res) => {
      const { principal } = res.locals;
      const key = req.get('idempotency-key');
      const ask = async (use?: KeyUse): Promise<StoredResponse> => {
        await assertCallbackUrl(ctx.config.callbackAllowedHosts, input.callbackUrl);
        // With a key the id derives from it and from when it was first used, so a request replayed after a crash finds
        // the collection it asked for, and the same key a day later asks again.
        const id = key && use ? stableId('collection', principal.userId, key, use.createdAt) : newId();
        if (use) use.holdOnFailure = true;
        const collection = await askForCollection(ctx, {
          id,
          userId: principal.userId,
          provider: input.provider,
          callbackUrl: input.callbackUrl,
          actor: actors.user(principal.userId),
        });
        return { status: 202, body: collectionView(collection) };
      };
      const answer = await answerIdempotently(ctx.db, req, res, '/v1/collections', ask);
      res
        .status(answer.status)
        .location(`/v1/collections/${(answer.body as { requestId: string }).requestId}`)
        .json(answer.body);
    },
  );

  define(
    {
      method: 'get',
      path: '/collections',
      operationId: 'listCollections',
      summary: 'List your collection requests, newest first',
      tag: 'collections',
      audience: 'client',
      query: listQuery,
      responses: { 200: { description: 'One page of the requests made with your keys (an operator sees everyone’s).', schema: pageOf(collectionSchema, 'CollectionPage') } },
    },
    async ({ query }, _req, res) => {
      const page = await listCollections(ctx.db, res.locals.principal, query, toPageArgs(query));
      res.json({ data: page.data.map(collectionView), nextCursor: page.nextCursor });
    },
  );

  define(
    {
      method: 'get',
      path: '/collections/:requestId',
      operationId: 'getCollection',
      summary: 'Read a collection request with every attempt, its data and its callbacks',
      tag: 'collections',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The request.', schema: collectionDetail } },
    },
    async ({ params }, _req, res) => {
      const collection = await findVisibleCollection(ctx.db, res.locals.principal, params.requestId);
      if (!collection) throw notFound('collection');
      const [attempts, callbacks] = await Promise.all([
        listAttempts(ctx.db, collection.id),
        listCallbacks(ctx.db, { type: 'collection', id: collection.id }),
      ]);
      res.json({ ...collectionView(collection), data: collection.status === 'succeeded' ? collection.data : null, attempts, callbacks });
    },
  );
}

/**
 * The request is written before its job is queued, and answered 202 either way: the database is the ground, and
 * should Redis refuse the job, the maintenance sweep queues it within a minute. A replayed key finds its request.
 */
async function askForCollection(ctx: AppContext, request: Parameters<typeof insertCollection>[1]): Promise<Collection> {
  let asked: Collection;
  try {
    asked = await insertCollection(ctx.db, request);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    asked = (await findCollection(ctx.db, request.id))!;
  }
  try {
    await ctx.queues.add('collect', 'collect', { requestId: asked.id }, { jobId: jobIds.collect(asked.id) });
  } catch (err) {
    ctx.log.warn({ err, requestId: asked.id }, 'collection not queued now; the maintenance sweep will queue it');
  }
  return asked;
}
