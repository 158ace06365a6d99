// The caller's callback signing secret: read it, or rotate it (the old one keeps signing for 24 hours).
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { rotateSecret, signingSecrets, type WebhookSecret } from '../../shared/callbacks/secrets.js';
import { instant } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { RATE_COST } from '../rate-limit.js';

function secretView(secrets: WebhookSecret[]) {
  const [current, ...previous] = secrets;
  return {
    secret: current!.secret,
    version: current!.version,
    createdAt: current!.createdAt,
    previous: previous.map((s) => ({ version: s.version, expiresAt: s.expiresAt })),
  };
}

const secret = z
  .object({
    secret: z.string().meta({ description: 'The Standard Webhooks secret (`whsec_…`) callbacks are signed with.' }),
    version: z.number().int(),
    createdAt: instant,
    previous: z.array(z.object({ version: z.number().int(), expiresAt: instant.nullable() })).meta({ description: 'Earlier secrets that still sign until they expire.' }),
  })
  .meta({ id: 'WebhookSecret' });

export function webhooksRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'get',
      path: '/webhooks/secret',
      operationId: 'getWebhookSecret',
      summary: 'Read the secret your callbacks are signed with',
      tag: 'webhooks',
      audience: 'client',
      responses: { 200: { description: 'The current secret, and earlier ones still signing.', schema: secret } },
    },
    async (_input, _req, res) => {
      res.json(secretView(await signingSecrets(ctx.db, res.locals.principal.userId)));
    },
  );

  define(
    {
      method: 'post',
      path: '/webhooks/secret/rotate',
      operationId: 'rotateWebhookSecret',
      summary: 'Rotate the signing secret',
      description: 'Callbacks carry signatures by both the new and the old secret for 24 hours, so the receiver can switch without losing any.',
      tag: 'webhooks',
      audience: 'client',
      cost: RATE_COST.write,
      responses: { 200: { description: 'The new secret.', schema: secret } },
    },
    async (_input, _req, res) => {
      res.json(secretView(await rotateSecret(ctx.db, res.locals.principal.userId)));
    },
  );
}
