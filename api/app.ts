// The express 5 app factory: health, the OpenAPI document and /docs, Bull Board, authenticated /v1 routes and JSON errors.
import express, { type Express } from 'express';
import type { AppContext } from '../queues/context.js';
import { ADMIN_PATH, basicAuth, bullBoardRouter } from './admin.js';
import { authenticate } from './auth.js';
import { buildDocument, createRegistry, docsAssets, DOCS_PATH, type OpenApiDocument } from './contract/openapi.js';
import { createRouteTable, JSON_BODY_LIMIT, type DefineRoute } from './contract/route-table.js';
import { errorHandler, routeNotFound } from './errors.js';
import { createRateLimiter } from './rate-limit.js';
import { requestLog } from './request-log.js';
import { billingRoutes } from './routes/billing.js';
import { collectionsRoutes } from './routes/collections.js';
import { customersRoutes } from './routes/customers.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { invoicesRoutes } from './routes/invoices.js';
import { ordersRoutes } from './routes/orders.js';
import { paymentsRoutes } from './routes/payments.js';
import { reportsRoutes } from './routes/reports.js';
import { sdiRoutes } from './routes/sdi.js';
import { usersRoutes } from './routes/users.js';
import { webhooksRoutes } from './routes/webhooks.js';

/** The API's version, shown in the document. */
const API_VERSION = '1.0.0';

/** Every group of /v1 routes, in the order the document lists them. */
const V1_ROUTES: ((define: DefineRoute, ctx: AppContext) => void)[] = [
  invoicesRoutes,
  sdiRoutes,
  billingRoutes,
  paymentsRoutes,
  ordersRoutes,
  collectionsRoutes,
  customersRoutes,
  usersRoutes,
  webhooksRoutes,
  reportsRoutes,
];

export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(ctx.log));
  const registry = createRegistry();

  // Unauthenticated: health, and the document that describes the rest (built below, once every route is declared).
  const publicTable = createRouteTable({ router: app.router, registry, prefix: '' });
  healthRoutes(publicTable, ctx);
  let document: OpenApiDocument | undefined;
  docsRoutes(publicTable, () => document!);
  app.use(DOCS_PATH, docsAssets());

  // Without a password (possible only outside production) the board is not mounted at all.
  const { adminUser, adminPassword } = ctx.config;
  if (adminPassword) app.use(ADMIN_PATH, basicAuth(adminUser, adminPassword), bullBoardRouter(ctx.queues));

  const v1 = express.Router();
  // Authenticate before anything else, so anonymous callers cannot make us parse a megabyte or spend a budget.
  v1.use(authenticate(ctx.db, ctx.config.authCacheSeconds * 1000));
  const limiter = createRateLimiter({ redis: ctx.queues.connection, prefix: ctx.config.queuePrefix, perSecond: ctx.config.rateLimitPerSecond, burst: ctx.config.rateLimitBurst, log: ctx.log });
  // Every route registers on this one router: each nested router would cost every request a hop.
  const v1Table = createRouteTable({ router: v1, registry, prefix: '/v1', limit: (cost) => limiter.middleware(cost), parseJson: express.json({ limit: JSON_BODY_LIMIT }) });
  for (const routes of V1_ROUTES) routes(v1Table, ctx);
  app.use('/v1', v1);

  document = buildDocument(registry, API_VERSION);

  app.use(routeNotFound);
  app.use(errorHandler(ctx.log));
  return app;
}
