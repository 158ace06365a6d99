// Bearer API-key authentication for /v1, and the operator-only guard.
import type { Knex } from 'knex';
import type { RequestHandler } from 'express';
import type { Principal } from '../shared/principal.js';
import { findPrincipalByApiKey } from '../shared/users.js';
import { ApiError, forbidden } from './errors.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      principal: Principal;
    }
  }
}

export function authenticate(db: Knex): RequestHandler {
  return async (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!match?.[1]) throw new ApiError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key>');
    const principal = await findPrincipalByApiKey(db, match[1]);
    if (!principal) throw new ApiError(401, 'unauthorized', 'unknown or revoked API key');
    res.locals.principal = principal;
    req.log = req.log.child({ userId: principal.userId });
    next();
  };
}

export const requireOperator: RequestHandler = (_req, res, next) => {
  if (res.locals.principal.role !== 'operator') throw forbidden('operators only');
  next();
};
