// Liveness (/healthz: the process answers) and readiness (/readyz: Redis and the database answer); neither is authenticated or rate limited.
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { withDeadline } from '../../shared/platform/errors/unavailable.js';
import type { DefineRoute } from '../contract/route-table.js';
import { RETRY_AFTER_SECONDS } from '../errors.js';

const CHECK_DEADLINE_MS = 1000;

async function check(work: () => Promise<unknown>, dependency: 'redis' | 'database'): Promise<'up' | 'down'> {
  try {
    await withDeadline(dependency, work(), CHECK_DEADLINE_MS);
    return 'up';
  } catch {
    return 'down';
  }
}

const dependency = z.enum(['up', 'down']);
const readiness = z.object({ status: z.enum(['ready', 'unavailable']), redis: dependency, database: dependency }).meta({ id: 'Readiness' });

export function healthRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'get',
      path: '/healthz',
      operationId: 'getHealth',
      summary: 'Liveness: the process answers',
      tag: 'health',
      audience: 'public',
      responses: { 200: { description: 'The process is alive.', schema: z.object({ status: z.literal('ok') }) } },
    },
    (_input, _req, res) => {
      res.json({ status: 'ok' });
    },
  );

  define(
    {
      method: 'get',
      path: '/readyz',
      operationId: 'getReadiness',
      summary: 'Readiness: Redis and the database answer',
      tag: 'health',
      audience: 'public',
      responses: {
        200: { description: 'Both dependencies answer.', schema: readiness },
        503: { description: 'One of them does not: `Retry-After` says when to ask again.', schema: readiness, headers: z.object({ 'Retry-After': z.string() }) },
      },
    },
    async (_input, _req, res) => {
      const [redis, database] = await Promise.all([
        check(() => ctx.queues.connection.ping(), 'redis'),
        check(() => ctx.db.raw('select 1'), 'database'),
      ]);
      const ready = redis === 'up' && database === 'up';
      if (!ready) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', redis, database });
    },
  );
}
