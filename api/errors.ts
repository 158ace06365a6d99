// JSON errors for every failure: { error: { code, message, details } }, never a stack trace.
import { STATUS_CODES } from 'node:http';
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

/** Where a request's input failed: its body, its query string or its path. */
export type InputPart = 'body' | 'query' | 'path';

/** A 400 listing each failing field; an unknown field (a strict schema's unrecognized key) is named as a field of its own. */
export function invalid(error: ZodError, where: InputPart = 'body'): ApiError {
  const details = error.issues.flatMap((issue) => {
    const at = (path: PropertyKey[]) => path.map(String).join('.') || where;
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: at([...issue.path, key]), message: 'unknown field' }));
    return [{ field: at(issue.path), message: issue.message }];
  });
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
  const httpError = err as { type?: string; errno?: unknown; status?: unknown; statusCode?: unknown; expose?: unknown };
  if (httpError?.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'the request body is over the limit of 1 MB');
  if (httpError?.type === 'entity.parse.failed') return new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  if (httpError?.type === 'encoding.unsupported' || httpError?.type === 'charset.unsupported') {
    return new ApiError(415, 'unsupported_media_type', 'unsupported body encoding');
  }
  const status = clientErrorStatus(httpError);
  if (status !== undefined) {
    // The router marks a path it cannot percent-decode with a 400 URIError (and no `expose`).
    if (err instanceof URIError) return new ApiError(400, 'invalid_path', 'the path is not valid percent-encoding');
    // A body that does not inflate (a zlib or brotli error, with its errno) or ends early (raw-body's request.* types).
    if (status === 400 && (/^request\./.test(String(httpError.type)) || typeof httpError.errno === 'number')) {
      return new ApiError(400, 'invalid_body', 'the request body could not be read: check its Content-Encoding and Content-Length');
    }
    // Any other client error the router or body-parser raise: its status and standard reason, not its message.
    if (httpError.expose === true) return new ApiError(status, snakeCase(STATUS_CODES[status] ?? 'client error'), STATUS_CODES[status] ?? 'client error');
  }
  if (isUnavailable(err)) return new ApiError(503, 'service_unavailable', 'a dependency is unavailable; retry shortly');
  return new ApiError(500, 'internal', 'internal error');
}

/** The 4xx status an http-errors error carries (`status` or `statusCode`), if any. */
function clientErrorStatus(err: { status?: unknown; statusCode?: unknown } | null | undefined): number | undefined {
  const status = err?.status ?? err?.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500 ? status : undefined;
}

const snakeCase = (reason: string) => reason.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
