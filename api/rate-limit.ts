// Per-user rate limits counted in Redis, so every `web` process shares them: IETF RateLimit headers, 429 past the limit.
import type { RequestHandler } from 'express';
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import type { Logger } from '../shared/platform/logger.js';
import { ApiError } from './errors.js';

/**
 * What one call spends of its user's quota, in quota units: a read costs 1; a write costs 2 (a row and a job); a
 * payment 5 (a charge at the provider); an XML receipt 10 (parsed and schema-validated in the bounded pool). A cost
 * above the quota is capped at the quota, so every route stays callable with a fresh window.
 */
export const RATE_COST = { read: 1, write: 2, payment: 5, xmlReceipt: 10 } as const;

/** The policy's name in both headers (draft-ietf-httpapi-ratelimit-headers-11 names every policy). */
export const RATE_POLICY_NAME = 'default';

export interface RateLimiterOptions {
  /** The connection the counters live on: the API's producer connection (`ctx.queues.connection`), single or Cluster. */
  redis: Redis | Cluster;
  /**
   * Keys are `<prefix>:rate-limit:<userId>`. Pass the queue prefix: a hash-tagged `{antaeus}` then keeps them in
   * the queues' cluster slot (each operation touches one key, so any prefix works on a cluster).
   */
  prefix: string;
  /** `RATE_LIMIT_PER_SECOND`: the sustained rate. */
  perSecond: number;
  /** `RATE_LIMIT_BURST`: the most spent at once. */
  burst: number;
  log: Logger;
  /**
   * How long a request waits for Redis before the per-process insurance limiter answers instead.
   * @defaultValue `250`
   */
  redisTimeoutMs?: number;
}

export interface RateLimiter {
  /** The quota every user gets per window: what `RateLimit-Policy` advertises. */
  readonly quota: number;
  readonly windowSeconds: number;
  /**
   * Spends `cost` units of the authenticated user's quota (mount it after `authenticate`). Every answer carries
   * `RateLimit-Policy` and `RateLimit`; past the quota it answers `429 rate_limited` with `Retry-After`.
   */
  middleware(cost: number): RequestHandler;
}

/**
 * What a client gets: a fixed window of `quota = max(burst, perSecond)` units lasting `ceil(quota / perSecond)`
 * seconds (200 units per 2 s by default), opened by the user's first request and counted in Redis for every `web`
 * process. So it may spend the whole burst at once and sustain at most `perSecond` on average; across the edge of
 * two windows it may spend up to two quotas in a short time, never more. This is rate-limiter-flexible's fixed
 * window with points = burst over burst/rate seconds, not a true token bucket (which the library does not offer):
 * it maps one to one onto `RateLimit-Policy: "default";q=<quota>;w=<window>`. A refused request counts too; that
 * cannot lengthen the wait, because a window ends when it ends, and a process that refused a user answers from
 * memory until then without asking Redis.
 *
 * While Redis does not answer (stopped, or not within `redisTimeoutMs`), each process limits alone with the same
 * policy in memory (rate-limiter-flexible's insurance limiter): N processes then let a user through up to N times
 * as fast, but reads that need only the database keep working; it is logged at most once a minute.
 */
export function createRateLimiter({ redis, prefix, perSecond, burst, log, redisTimeoutMs = 250 }: RateLimiterOptions): RateLimiter {
  const quota = Math.max(burst, perSecond);
  const windowSeconds = Math.ceil(quota / perSecond);
  const keyPrefix = `${prefix}:rate-limit`;
  const shape = { points: quota, duration: windowSeconds, keyPrefix };

  let warnedAt = -Infinity;
  const insurance = new InsuranceLimiter(shape, () => {
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    log.warn('Redis does not answer: rate limits are counted by each web process alone until it does');
  });

  const limiter = new RLWrapperTimeouts({
    limiter: new RateLimiterRedis({
      ...shape,
      storeClient: redis,
      // The producer connection has no offline queue, so a command fails at once while Redis is down; checking the
      // status first spares even that, and the deadline below covers any client and a Redis that accepts but never answers.
      rejectIfRedisNotReady: true,
      inMemoryBlockOnConsumed: quota + 1,
    }),
    timeoutMs: redisTimeoutMs,
    // Insurance on the wrapper only: a Redis error or the deadline both land here, and one request spends it once.
    insuranceLimiter: insurance,
  });

  const policyHeader = `"${RATE_POLICY_NAME}";q=${quota};w=${windowSeconds}`;

  return {
    quota,
    windowSeconds,
    middleware(cost) {
      if (!Number.isInteger(cost) || cost < 1) throw new Error(`a rate-limit cost is a whole number from 1, got ${cost}`);
      const points = Math.min(cost, quota);
      return async (_req, res, next) => {
        const principal = res.locals.principal;
        if (!principal) throw new Error('the rate limiter runs after authentication');
        let outcome: RateLimiterRes;
        let allowed = true;
        try {
          outcome = await limiter.consume(principal.userId, points);
        } catch (refusal) {
          if (!(refusal instanceof RateLimiterRes)) throw refusal;
          outcome = refusal;
          allowed = false;
        }
        const resetSeconds = Math.max(0, Math.ceil(outcome.msBeforeNext / 1000));
        res.set('RateLimit-Policy', policyHeader);
        res.set('RateLimit', `"${RATE_POLICY_NAME}";r=${outcome.remainingPoints};t=${resetSeconds}`);
        if (!allowed) {
          // Not before the end of the effective window `t`, as the draft asks.
          const retryAfter = Math.max(1, resetSeconds);
          res.set('Retry-After', String(retryAfter));
          throw new ApiError(429, 'rate_limited', `over the rate limit of ${quota} per ${windowSeconds} s for this API key's user; retry in ${retryAfter} s`);
        }
        next();
      };
    },
  };
}

/** The in-memory limiter that answers while Redis does not, and says so. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    shape: { points: number; duration: number; keyPrefix: string },
    private readonly onUse: () => void,
  ) {
    super(shape);
  }

  override consume(...args: Parameters<RateLimiterMemory['consume']>): Promise<RateLimiterRes> {
    this.onUse();
    return super.consume(...args);
  }
}
