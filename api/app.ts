// The express 5 app factory: health, Bull Board, authenticated /v1 routes and JSON errors.
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { AppContext } from '../shared/context.js';
import { ADMIN_PATH, basicAuth, bullBoardRouter } from './admin.js';
import { authenticate } from './auth.js';
import { errorHandler, routeNotFound } from './errors.js';
import { customersRouter } from './routes/customers.js';
import { healthRouter } from './routes/health.js';
import { invoicesRouter } from './routes/invoices.js';
import { sdiRouter } from './routes/sdi.js';
import { webhooksRouter } from './routes/webhooks.js';

export const BODY_LIMIT = '1mb';

export interface AppOptions {
  /** Bull Board credentials; without a password the board is not mounted. */
  admin?: { user: string; password: string | undefined };
}

export function createApp(ctx: AppContext, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(
    pinoHttp({
      logger: ctx.log,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      customProps: (_req, res) => ({ userId: (res as { locals?: { principal?: { userId: string } } }).locals?.principal?.userId }),
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      // One short line per request: headers are neither needed nor safe to keep in logs.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );

  app.use(healthRouter(ctx));

  const admin = options.admin ?? { user: ctx.config.adminUser, password: ctx.config.adminPassword };
  if (admin.password) app.use(ADMIN_PATH, basicAuth(admin.user, admin.password), bullBoardRouter(ctx.queues));

  const v1 = express.Router();
  // Authenticate before reading a body, so anonymous callers cannot make us parse a megabyte.
  v1.use(authenticate(ctx.db, ctx.config.authCacheMs));
  v1.use(express.json({ limit: BODY_LIMIT }));
  v1.use(invoicesRouter(ctx), sdiRouter(ctx), customersRouter(ctx), webhooksRouter(ctx));
  app.use('/v1', v1);

  app.use(routeNotFound);
  app.use(errorHandler);
  return app;
}
