// Bearer API-key authentication for /v1 (with a short-lived cache of who a key is), and the operator-only guard.
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import type { Principal } from '../shared/access/principal.js';
import { findPrincipalByApiKey } from '../shared/access/users.js';
import { ApiError, forbidden } from './errors.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      principal: Principal;
    }
  }
}

/**
 * Looks up the key, remembering the answer for `cacheMs` so the hot path does not query the database twice per
 * request: a revoked key or an unlinked customer takes effect within that time. 0 turns the cache off.
 */
export function authenticate(db: Knex, cacheMs: number): RequestHandler {
  const cache = cacheMs > 0 ? new LRUCache<string, Principal>({ max: 10_000, ttl: cacheMs }) : undefined;
  return async (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    const key = match?.[1];
    if (!key) throw new ApiError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key>');
    let principal = cache?.get(key);
    if (!principal) {
      principal = await findPrincipalByApiKey(db, key);
      if (!principal) throw new ApiError(401, 'unauthorized', 'unknown or revoked API key');
      cache?.set(key, principal);
    }
    res.locals.principal = principal;
    next();
  };
}

export const requireOperator: RequestHandler = (_req, res, next) => {
  if (res.locals.principal.role !== 'operator') throw forbidden('operators only');
  next();
};
