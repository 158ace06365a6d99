// SdI notification routes: accept a notification (validate, enqueue) and show how it was applied.
import type { Router } from 'express';
import { jobIds } from '../../queues/jobs.js';
import type { AppContext } from '../../shared/context.js';
import { nowIso } from '../../shared/db.js';
import { sdiNotificationId } from '../../shared/ids.js';
import { sdiNotificationSchema } from '../../shared/invoice-schema.js';
import { canAccessCustomer } from '../../shared/principal.js';
import { findVisibleNotification } from '../../shared/sdi-notifications.js';
import { notFound } from '../errors.js';
import { requireCustomer } from '../guards.js';
import { parseBody } from '../validate.js';

export function sdiRoutes(router: Router, ctx: AppContext): void {

  router.post('/sdi/notifications', async (req, res) => {
    const { principal } = res.locals;
    const notification = parseBody(sdiNotificationSchema, req.body);
    requireCustomer(principal, notification.customerId);
    const id = sdiNotificationId(notification.customerId, notification.invoiceNumber, notification.status);
    const payload = { notificationId: id, notification, acceptedAt: nowIso(), submittedBy: principal.userId };
    await ctx.queues.add('invoice-save', 'sdi-notification', payload, { jobId: jobIds.sdiNotification(id) });
    res.status(202).json({ id, status: 'RECEIVED', links: { self: `/v1/sdi/notifications/${id}` } });
  });

  router.get('/sdi/notifications/:id', async (req, res) => {
    const { principal } = res.locals;
    const stored = await findVisibleNotification(ctx.db, principal, req.params.id);
    if (stored) {
      res.json(stored);
      return;
    }
    const job = await ctx.queues.getJob('invoice-save', jobIds.sdiNotification(req.params.id));
    if (!job || job.name !== 'sdi-notification') throw notFound('notification');
    const { notification, acceptedAt, submittedBy } = job.data as { notification: { customerId: string }; acceptedAt: string; submittedBy: string };
    if (!canAccessCustomer(principal, notification.customerId)) throw notFound('notification');
    res.json({ id: req.params.id, ...notification, outcome: 'pending', receivedAt: acceptedAt, receivedBy: `user:${submittedBy}` });
  });

}
