// The express 5 app factory: health, Bull Board, authenticated /v1 routes and JSON errors.
import express, { type Express } from 'express';
import type { AppContext } from '../queues/context.js';
import { ADMIN_PATH, basicAuth, bullBoardRouter } from './admin.js';
import { authenticate } from './auth.js';
import { errorHandler, routeNotFound } from './errors.js';
import { requestLog } from './request-log.js';
import { billingRoutes } from './routes/billing.js';
import { customersRoutes } from './routes/customers.js';
import { healthRoutes } from './routes/health.js';
import { invoicesRoutes } from './routes/invoices.js';
import { paymentsRoutes } from './routes/payments.js';
import { reportsRoutes } from './routes/reports.js';
import { sdiRoutes, XML_TYPES } from './routes/sdi.js';
import { usersRoutes } from './routes/users.js';
import { webhooksRoutes } from './routes/webhooks.js';

export const BODY_LIMIT = '1mb';

export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(ctx.log));

  healthRoutes(app.router, ctx);

  // Without a password (possible only outside production) the board is not mounted at all.
  const { adminUser, adminPassword } = ctx.config;
  if (adminPassword) app.use(ADMIN_PATH, basicAuth(adminUser, adminPassword), bullBoardRouter(ctx.queues));

  const v1 = express.Router();
  // Authenticate before reading a body, so anonymous callers cannot make us parse a megabyte.
  v1.use(authenticate(ctx.db, ctx.config.authCacheSeconds * 1000));
  v1.use(express.json({ limit: BODY_LIMIT }));
  v1.use(express.text({ type: XML_TYPES, limit: BODY_LIMIT }));
  // Every route registers on this one router: each nested router would cost every request a hop.
  for (const routes of [invoicesRoutes, sdiRoutes, customersRoutes, webhooksRoutes, reportsRoutes, usersRoutes, billingRoutes, paymentsRoutes]) routes(v1, ctx);
  app.use('/v1', v1);

  app.use(routeNotFound);
  app.use(errorHandler(ctx.log));
  return app;
}
