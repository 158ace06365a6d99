// JSON errors for every failure: { error: { code, message, details } }, never a stack trace.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ZodError } from 'zod';
import { isUnavailable } from '../shared/platform/errors/unavailable.js';
import type { Logger } from '../shared/platform/logger.js';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what = 'resource') => new ApiError(404, 'not_found', `${what} not found`);
export const forbidden = (message = 'not allowed for this API key') => new ApiError(403, 'forbidden', message);

export function invalid(error: ZodError, where: 'body' | 'query' = 'body'): ApiError {
  const details = error.issues.map((issue) => ({ field: issue.path.join('.') || where, message: issue.message }));
  return new ApiError(400, 'invalid_request', `invalid ${where}`, details);
}

/** Seconds a client should wait before trying again while a dependency is down. */
export const RETRY_AFTER_SECONDS = 5;

export const routeNotFound: RequestHandler = (req, _res, next) => next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));

export const errorHandler = (log: Logger): ErrorRequestHandler => (err: unknown, req, res, _next) => {
  const apiError = toApiError(err);
  if (apiError.status >= 500) log.error({ err, reqId: req.id }, apiError.message);
  if (apiError.status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  if (apiError.status === 401) res.set('WWW-Authenticate', 'Bearer');
  res.status(apiError.status).json({ error: { code: apiError.code, message: apiError.message, details: apiError.details ?? null } });
};

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const bodyError = err as { type?: string; status?: number };
  if (bodyError?.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'the request body is over the limit of 1 MB');
  if (bodyError?.type === 'entity.parse.failed') return new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  if (bodyError?.type === 'encoding.unsupported' || bodyError?.type === 'charset.unsupported') {
    return new ApiError(415, 'unsupported_media_type', 'unsupported body encoding');
  }
  if (isUnavailable(err)) return new ApiError(503, 'service_unavailable', 'a dependency is unavailable; retry shortly');
  return new ApiError(500, 'internal', 'internal error');
}
