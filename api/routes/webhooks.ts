// The caller's callback signing secret: read it, or rotate it (the old one keeps signing for 24 hours).
import type { Router } from 'express';
import type { AppContext } from '../../queues/context.js';
import { rotateSecret, signingSecrets, type WebhookSecret } from '../../shared/callbacks/secrets.js';

function secretView(secrets: WebhookSecret[]) {
  const [current, ...previous] = secrets;
  return {
    secret: current!.secret,
    version: current!.version,
    createdAt: current!.createdAt,
    previous: previous.map((s) => ({ version: s.version, expiresAt: s.expiresAt })),
  };
}

export function webhooksRoutes(router: Router, ctx: AppContext): void {
  router.get('/webhooks/secret', async (_req, res) => {
    res.json(secretView(await signingSecrets(ctx.db, res.locals.principal.userId)));
  });
  router.post('/webhooks/secret/rotate', async (_req, res) => {
    res.json(secretView(await rotateSecret(ctx.db, res.locals.principal.userId)));
  });
}
