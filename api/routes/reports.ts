// Report routes: operators ask for a DLQ or invoice report now, and follow it until its CSV file is written.
import { randomUUID } from 'node:crypto';
import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { requireOperator } from '../auth.js';
import { notFound } from '../errors.js';
import { parseBody } from '../validate.js';

const REPORT_TYPES = ['dlq-report', 'invoice-report'] as const;
const reportRequest = z.object({ type: z.enum(REPORT_TYPES) });

export function reportsRoutes(router: Router, ctx: AppContext): void {

  router.post('/reports', requireOperator, async (req, res) => {
    const { type } = parseBody(reportRequest, req.body);
    const id = `report-${randomUUID()}`;
    await ctx.queues.add('reports', type, {}, { jobId: id });
    res.status(202).json({ id, type, status: 'queued', links: { self: `/v1/reports/${id}` } });
  });

  router.get('/reports/:id', requireOperator, async (req, res) => {
    const job = await ctx.queues.getJob('reports', String(req.params.id));
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
  });

}
