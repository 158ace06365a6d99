// Liveness (/healthz: the process answers) and readiness (/readyz: Redis and the database answer).
import type { Router } from 'express';
import type { AppContext } from '../../queues/context.js';
import { withDeadline } from '../../shared/platform/errors/unavailable.js';
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

export function healthRoutes(router: Router, ctx: AppContext): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [redis, database] = await Promise.all([
      check(() => ctx.queues.connection.ping(), 'redis'),
      check(() => ctx.db.raw('select 1'), 'database'),
    ]);
    const ready = redis === 'up' && database === 'up';
    if (!ready) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', redis, database });
  });
}
