// Billing-run routes: operators start a run now; everyone follows runs, with counts over the customers they may see.
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { billingRunView, createBillingRun, deleteQueuedRun, findBillingRun, listBillingRuns, localDate } from '../../shared/billing/runs.js';
import { newId } from '../../shared/platform/ids.js';
import { isoDate, resourceId } from '../../shared/platform/input.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { day, instant, pageOf } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { notFound } from '../errors.js';
import { RATE_COST } from '../rate-limit.js';

const runRequest = z
  .strictObject({
    cutoffDate: isoDate.optional().meta({ description: 'Invoices due by this day are charged; by default today in BILLING_TZ.' }),
  })
  .meta({ id: 'BillingRunRequest' });

const count = z.number().int();
const billingRun = z
  .object({
    id: z.string(),
    status: z.enum(['queued', 'running', 'charging', 'completed', 'failed']),
    cutoffDate: day,
    requestedBy: z.string(),
    createdAt: instant,
    startedAt: instant.nullable(),
    finishedAt: instant.nullable(),
    counts: z.object({
      selected: count,
      enqueued: count,
      paid: count,
      failed: count,
      retrying: count.meta({ description: 'Declined for the balance, waiting for the next dunning attempt.' }),
      pending: count.meta({ description: 'Not charged yet, or a charge in flight.' }),
      awaitingSdi: count.meta({ description: 'Due, but not accepted by the SdI yet: a later run charges them.' }),
    }),
    error: z.string().nullable(),
  })
  .meta({ id: 'BillingRun' });

const idParams = z.strictObject({ id: resourceId(64).meta({ description: 'The billing run id.' }) });

export function billingRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'post',
      path: '/billing/runs',
      operationId: 'startBillingRun',
      summary: 'Start a billing run now',
      description: 'Charges every accepted invoice due by the cutoff that is not paid yet; the monthly schedule starts the same run.',
      tag: 'billing',
      audience: 'operator',
      body: runRequest,
      cost: RATE_COST.write,
      responses: { 202: { description: 'Queued: follow it at `Location`.', schema: billingRun, headers: z.object({ Location: z.string() }) } },
    },
    async ({ body }, _req, res) => {
      const id = newId();
      const principal = res.locals.principal;
      await createBillingRun(ctx.db, { id, cutoffDate: body.cutoffDate ?? localDate(new Date(), ctx.config.billingTz), requestedBy: actors.user(principal.userId), jobId: jobIds.billingRun(id) });
      try {
        await ctx.queues.add('billing', 'billing-run', { runId: id }, { jobId: jobIds.billingRun(id) });
      } catch (err) {
        // Not queued, so not a run: leave no row that would read "queued" for ever.
        await deleteQueuedRun(ctx.db, id).catch(() => undefined);
        throw err;
      }
      const run = (await findBillingRun(ctx.db, id))!;
      res.status(202).location(`/v1/billing/runs/${id}`).json(await billingRunView(ctx.db, principal, run));
    },
  );

  define(
    {
      method: 'get',
      path: '/billing/runs',
      operationId: 'listBillingRuns',
      summary: 'List billing runs, newest first',
      description: 'A client sees every run, with counts over its own customers only.',
      tag: 'billing',
      audience: 'client',
      query: z.strictObject(pageQuery.shape),
      responses: { 200: { description: 'One page of runs.', schema: pageOf(billingRun, 'BillingRunPage') } },
    },
    async ({ query }, _req, res) => {
      const page = await listBillingRuns(ctx.db, toPageArgs(query));
      const data = await Promise.all(page.data.map((run) => billingRunView(ctx.db, res.locals.principal, run)));
      res.json({ data, nextCursor: page.nextCursor });
    },
  );

  define(
    {
      method: 'get',
      path: '/billing/runs/:id',
      operationId: 'getBillingRun',
      summary: 'Read a billing run and its progress',
      tag: 'billing',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The run.', schema: billingRun } },
    },
    async ({ params }, _req, res) => {
      const run = await findBillingRun(ctx.db, params.id);
      if (!run) throw notFound('billing run');
      res.json(await billingRunView(ctx.db, res.locals.principal, run));
    },
  );
}
