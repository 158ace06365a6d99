// Billing-run routes: operators start a run now; everyone follows runs, with counts over the customers they may see.
import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { billingRunView, createBillingRun, deleteQueuedRun, findBillingRun, listBillingRuns, localDate } from '../../shared/billing/runs.js';
import { newId } from '../../shared/platform/ids.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { requireOperator } from '../auth.js';
import { notFound } from '../errors.js';
import { parseBody, parseQuery } from '../validate.js';

const runRequest = z.object({
  /** Invoices due by this date are charged; by default today's date in BILLING_TZ. */
  cutoffDate: z.iso.date().optional(),
});

export function billingRoutes(router: Router, ctx: AppContext): void {

  router.post('/billing/runs', requireOperator, async (req, res) => {
    const { cutoffDate } = parseBody(runRequest, req.body);
    const id = newId();
    const principal = res.locals.principal;
    await createBillingRun(ctx.db, { id, cutoffDate: cutoffDate ?? localDate(new Date(), ctx.config.billingTz), requestedBy: actors.user(principal.userId), jobId: jobIds.billingRun(id) });
    try {
      await ctx.queues.add('billing', 'billing-run', { runId: id }, { jobId: jobIds.billingRun(id) });
    } catch (err) {
      // Not queued, so not a run: leave no row that would read "queued" for ever.
      await deleteQueuedRun(ctx.db, id).catch(() => undefined);
      throw err;
    }
    const run = (await findBillingRun(ctx.db, id))!;
    res.status(202).location(`/v1/billing/runs/${id}`).json(await billingRunView(ctx.db, principal, run));
  });

  router.get('/billing/runs', async (req, res) => {
    const page = await listBillingRuns(ctx.db, toPageArgs(parseQuery(pageQuery, req.query)));
    const data = await Promise.all(page.data.map((run) => billingRunView(ctx.db, res.locals.principal, run)));
    res.json({ data, nextCursor: page.nextCursor });
  });

  router.get('/billing/runs/:id', async (req, res) => {
    const run = await findBillingRun(ctx.db, String(req.params.id));
    if (!run) throw notFound('billing run');
    res.json(await billingRunView(ctx.db, res.locals.principal, run));
  });

}
