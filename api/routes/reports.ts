// Report routes: operators ask for a DLQ or invoice report now, and follow it until its CSV file is written.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { resourceId } from '../../shared/platform/input.js';
import { instant, links } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { notFound } from '../errors.js';
import { RATE_COST } from '../rate-limit.js';

const REPORT_TYPES = ['dlq-report', 'invoice-report'] as const;
const reportRequest = z.strictObject({ type: z.enum(REPORT_TYPES) }).meta({ id: 'ReportRequest' });

const queuedReport = z.object({ id: z.string(), type: z.enum(REPORT_TYPES), status: z.literal('queued'), links }).meta({ id: 'QueuedReport' });
const report = z
  .object({
    id: z.string(),
    type: z.enum(REPORT_TYPES),
    status: z.string().meta({ description: 'The job’s state: waiting, active, completed, failed…' }),
    requestedAt: instant,
    finishedAt: instant.nullable(),
    file: z.string().nullable().meta({ description: 'Where the CSV file was written, once completed.' }),
    rows: z.number().int().nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'Report' });

const idParams = z.strictObject({ id: resourceId(100).meta({ description: 'The report id (`report-…`).' }) });

export function reportsRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'post',
      path: '/reports',
      operationId: 'requestReport',
      summary: 'Write a DLQ or invoice report now',
      tag: 'reports',
      audience: 'operator',
      body: reportRequest,
      cost: RATE_COST.write,
      responses: { 202: { description: 'Queued: follow `links.self`.', schema: queuedReport } },
    },
    async ({ body }, _req, res) => {
      const id = `report-${randomUUID()}`;
      await ctx.queues.add('reports', body.type, {}, { jobId: id });
      res.status(202).json({ id, type: body.type, status: 'queued', links: { self: `/v1/reports/${id}` } });
    },
  );

  define(
    {
      method: 'get',
      path: '/reports/:id',
      operationId: 'getReport',
      summary: 'Follow a report',
      tag: 'reports',
      audience: 'operator',
      params: idParams,
      responses: { 200: { description: 'The report and, once written, its file.', schema: report } },
    },
    async ({ params }, _req, res) => {
      const job = await ctx.queues.getJob('reports', params.id);
      if (!job) throw notFound('report');
      const state = await job.getState();
      const result = (job.returnvalue ?? null) as { file: string; rows: number } | null;
      res.json({
        id: job.id,
        type: job.name,
        status: state,
        requestedAt: new Date(job.timestamp).toISOString(),
        finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
        file: result?.file ?? null,
        rows: result?.rows ?? null,
        error: job.failedReason || null,
      });
    },
  );
}
