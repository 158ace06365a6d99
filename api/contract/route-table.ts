// Declares each route once: its express registration, the zod schemas that validate its input, its rate-limit cost and its OpenAPI entry.
import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { requireOperator } from '../auth.js';
import { parseInput } from '../validate.js';
import { errorResponse, rateLimitHeaders } from './components.js';

type Method = 'get' | 'post' | 'put' | 'delete';

/** The largest JSON body a route reads: an invoice of 1,000 lines fits. */
export const JSON_BODY_LIMIT = '1mb';

/** What a route answers with one status: a description, and a JSON schema unless the body is empty or not JSON. */
export interface Answer {
  description: string;
  /** The JSON body; omit for an empty answer (204) or give `content` for another media type. */
  schema?: z.ZodType;
  /** A body in another media type, e.g. `{ 'application/xml': z.string() }`. */
  content?: Record<string, z.ZodType>;
  /** Response headers beyond the rate-limit ones every /v1 answer carries. */
  headers?: z.ZodObject;
}

/** Who may call a route: anyone (health, the document itself), any API key, or operators only. */
export type Audience = 'public' | 'client' | 'operator';

export interface RouteSpec<P extends z.ZodObject | undefined, Q extends z.ZodObject | undefined, B extends z.ZodType | undefined> {
  method: Method;
  /** The express path below the table's prefix, e.g. `/invoices/:id`. */
  path: string;
  /** A stable, unique name for clients generated from the document. */
  operationId: string;
  summary: string;
  description?: string;
  /** The capability the route belongs to; the document groups routes by it. */
  tag: string;
  audience: Audience;
  params?: P;
  query?: Q;
  /** The JSON body, validated strictly; a route with another body type parses it itself and declares `rawBody`. */
  body?: B;
  /** A non-JSON body the handler reads from `req.body` (e.g. an XML receipt), for the document only. */
  rawBody?: { description: string; content: Record<string, z.ZodType> };
  /** Request headers the route reads, for the document (the handler validates them). */
  headers?: z.ZodObject;
  /** Middleware run after authentication and before the body parser sees the body (e.g. a route's own body limit). */
  before?: RequestHandler[];
  /** The route's own answers; the error answers every route may give are added from what it declares. */
  responses: Record<number, Answer>;
  /**
   * What one call spends of the caller's rate-limit budget: reads cost 1, work that is queued or parsed more.
   * @defaultValue 1
   */
  cost?: number;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export type RouteHandler<P extends z.ZodObject | undefined, Q extends z.ZodObject | undefined, B extends z.ZodType | undefined> = (
  input: RouteInput<Out<P>, Out<Q>, Out<B>>,
  req: Request,
  res: Response,
) => Promise<void> | void;

/** What a table needs from the app: where routes go, what documents them, what limits them. */
export interface RouteTableDeps {
  router: Router;
  registry: OpenAPIRegistry;
  /** The path the router is mounted on, e.g. `/v1`, for the document. */
  prefix: string;
  /** Rate-limit middleware for a cost; absent on routes that are not limited (public ones). */
  limit?: (cost: number) => RequestHandler;
  /** The JSON body parser, run only on routes that declare a body, after the rate limit and the role check. */
  parseJson?: RequestHandler;
}

export type DefineRoute = <P extends z.ZodObject | undefined = undefined, Q extends z.ZodObject | undefined = undefined, B extends z.ZodType | undefined = undefined>(
  spec: RouteSpec<P, Q, B>,
  handler: RouteHandler<P, Q, B>,
) => void;

/** express `:name` → OpenAPI `{name}`. */
const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export function createRouteTable({ router, registry, prefix, limit, parseJson }: RouteTableDeps): DefineRoute {
  return (spec, handler) => {
    const chain: RequestHandler[] = [];
    if (spec.audience !== 'public' && limit) chain.push(limit(spec.cost ?? 1));
    if (spec.audience === 'operator') chain.push(requireOperator);
    chain.push(...(spec.before ?? []));
    // A refused caller costs no parse: the body is read only once the route, the budget and the role allow it.
    if (spec.body && parseJson) chain.push(parseJson);
    chain.push(async (req, res) => {
      const input = {
        params: spec.params ? parseInput(spec.params, req.params, 'path') : undefined,
        query: spec.query ? parseInput(spec.query, req.query, 'query') : undefined,
        body: spec.body ? parseInput(spec.body, req.body, 'body') : undefined,
      } as RouteInput<never, never, never>;
      await handler(input, req, res);
    });
    router[spec.method](spec.path, ...chain);
    registry.registerPath(documentRoute(spec, prefix));
  };
}

/** `{ 'application/xml': schema }` → the document's `{ 'application/xml': { schema } }`. */
const mediaTypes = (content: Record<string, z.ZodType>) => Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }]));

function documentRoute(spec: RouteSpec<z.ZodObject | undefined, z.ZodObject | undefined, z.ZodType | undefined>, prefix: string) {
  const limited = spec.audience !== 'public';
  const responses: Record<string, ResponseConfig> = {};
  for (const [status, answer] of Object.entries(spec.responses)) {
    const content = answer.content ? mediaTypes(answer.content) : answer.schema ? mediaTypes({ 'application/json': answer.schema }) : undefined;
    const headers = limited ? rateLimitHeaders.extend(answer.headers?.shape ?? {}) : answer.headers;
    responses[status] = { description: answer.description, ...(content ? { content } : {}), ...(headers ? { headers } : {}) };
  }
  const takesInput = Boolean(spec.params || spec.query || spec.body || spec.rawBody || spec.headers);
  if (takesInput) responses['400'] ??= errorResponse(400, 'The input is invalid: `details` names each failing field, unknown fields included.', limited);
  if (limited) {
    responses['401'] ??= errorResponse(401, 'No API key, or one that is unknown or revoked.', false);
    if (spec.audience === 'operator') responses['403'] ??= errorResponse(403, 'The API key is not an operator’s.', limited);
    if (spec.params) responses['404'] ??= errorResponse(404, 'No such resource, or one the API key may not see: the two answer alike.', limited);
    if (spec.body || spec.rawBody) responses['413'] ??= errorResponse(413, 'The body is over the limit of its endpoint.', limited);
    responses['429'] ??= errorResponse(429, 'Over the rate limit: wait the seconds in `Retry-After`.', limited, true);
  }
  responses['503'] ??= errorResponse(503, 'A dependency (Redis, the database, the XML validation pool) cannot answer now: retry after the seconds in `Retry-After`.', limited, true);

  const body = spec.body
    ? { required: true, content: mediaTypes({ 'application/json': spec.body }) }
    : spec.rawBody
      ? { required: true, description: spec.rawBody.description, content: mediaTypes(spec.rawBody.content) }
      : undefined;
  return {
    method: spec.method,
    path: openApiPath(`${prefix}${spec.path}`),
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    ...(limited ? {} : { security: [] }),
    ...(limited ? { 'x-rate-limit-cost': spec.cost ?? 1 } : {}),
    request: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(body ? { body } : {}),
    },
    responses,
  };
}
