// One log line per request, with its id (from x-request-id or new): what pino-http gave, at a fraction of its cost.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../shared/platform/logger.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request id, echoed in the x-request-id response header and in every log line about the request. */
      id: string;
    }
  }
}

const SAFE_ID = /^[\w.-]{1,64}$/;
const QUIET = new Set(['/healthz', '/readyz']);

export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', req.id);
    if (QUIET.has(req.path)) {
      next();
      return;
    }
    const started = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      const fields = {
        reqId: req.id,
        method: req.method,
        url: req.originalUrl,
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        userId: res.locals.principal?.userId,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (status >= 500) log.error(fields, 'request failed');
      else if (status >= 400) log.warn(fields, 'request refused');
      else log.info(fields, 'request completed');
    });
    next();
  };
}
