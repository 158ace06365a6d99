// Bull Board at /admin/queues behind HTTP basic auth with the operator credentials from the configuration.
import { timingSafeEqual, createHash } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler, Router } from 'express';
import type { Queues } from '../queues/producer.js';

export const ADMIN_PATH = '/admin/queues';

// Hashing both sides first gives equal lengths, so the comparison takes the same time whatever was sent.
const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

export function basicAuth(user: string, password: string): RequestHandler {
  return (req, res, next) => {
    const [scheme, encoded] = (req.get('authorization') ?? '').split(' ');
    const [givenUser, ...rest] = Buffer.from(encoded ?? '', 'base64').toString('utf8').split(':');
    if (scheme?.toLowerCase() === 'basic' && sameSecret(givenUser ?? '', user) && sameSecret(rest.join(':'), password)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Basic realm="Antaeus operators", charset="UTF-8"');
    res.status(401).json({ error: { code: 'unauthorized', message: 'operator credentials required', details: null } });
  };
}

export function bullBoardRouter(queues: Queues): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_PATH);
  createBullBoard({ queues: queues.all().map((q) => new BullMQAdapter(q)), serverAdapter });
  return serverAdapter.getRouter() as Router;
}
