// Billing runs: the record of each run, the keyset page of chargeable invoices it takes, and its live counts.
import type { Knex } from 'knex';
import type { Actor } from '../access/actors.js';
import { isOperator, scopeToCustomers, type Principal } from '../access/principal.js';
import { AWAITING_SDI_STATUSES, CHARGEABLE_STATUSES } from '../invoices/status.js';
import { nowIso, returnedId, toIso, toNumber } from '../platform/db.js';
import { stableId } from '../platform/ids.js';
import { keysetPage, toPage, type Page, type PageArgs } from '../platform/pagination.js';

/** Runs within a day of each other never take each other's invoices; after that, a run's unsettled invoices are free again. */
export const RUN_HOLD_MS = 24 * 3_600_000;

/** A scheduled billing run's id, from its scheduler job's id, so a retried job resumes the same run. */
export const scheduledBillingRunId = (jobId: string): string => stableId('billing-run', jobId);

export type StoredRunStatus = 'queued' | 'running' | 'enqueued' | 'failed';

export interface BillingRunRow {
  id: string;
  status: StoredRunStatus;
  cutoffDate: string;
  requestedBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cursor: string | null;
  selected: number;
  enqueued: number;
  /** Due invoices the run left because the SdI had not accepted them yet. */
  awaitingSdi: number;
  /** The job driving the run. */
  jobId: string | null;
  error: string | null;
}

type Row = Record<string, unknown>;

const toRun = (r: Row): BillingRunRow => ({
  id: String(r.id),
  status: r.status as StoredRunStatus,
  cutoffDate: String(r.cutoff_date),
  requestedBy: String(r.requested_by),
  createdAt: toIso(r.created_at),
  startedAt: r.started_at == null ? null : toIso(r.started_at),
  finishedAt: r.finished_at == null ? null : toIso(r.finished_at),
  cursor: (r.cursor as string | null) ?? null,
  selected: toNumber(r.selected),
  enqueued: toNumber(r.enqueued),
  awaitingSdi: toNumber(r.awaiting_sdi ?? 0),
  jobId: (r.job_id as string | null) ?? null,
  error: (r.error as string | null) ?? null,
});

/** The calendar date of `at` in `timeZone`, as YYYY-MM-DD: what "due by the run" means on the 1st in Rome. */
export function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** Records a run unless one with its id exists (a retried scheduler job). */
export async function createBillingRun(db: Knex, run: { id: string; cutoffDate: string; requestedBy: Actor; jobId: string }): Promise<void> {
  await db('billing_runs')
    .insert({ id: run.id, status: 'queued', cutoff_date: run.cutoffDate, requested_by: run.requestedBy, created_at: nowIso(), job_id: run.jobId })
    .onConflict('id')
    .ignore();
}

export async function findBillingRun(db: Knex, id: string): Promise<BillingRunRow | undefined> {
  const row = await db('billing_runs').first('*').where({ id });
  return row ? toRun(row) : undefined;
}

/** Runs not finished: queued or still paging. The sweep checks each still has its job. */
export async function unfinishedRuns(db: Knex): Promise<BillingRunRow[]> {
  return (await db('billing_runs').select('*').whereIn('status', ['queued', 'running']).orderBy('id')).map(toRun);
}

/** A run whose job is gone is driven again by a job of its own id from now on. */
export async function setRunJob(db: Knex, id: string, jobId: string): Promise<void> {
  await db('billing_runs').where({ id }).update({ job_id: jobId });
}

export async function deleteQueuedRun(db: Knex, id: string): Promise<void> {
  await db('billing_runs').where({ id, status: 'queued' }).delete();
}

export async function markRunStarted(db: Knex, id: string): Promise<void> {
  await db('billing_runs').where({ id }).whereIn('status', ['queued', 'failed']).update({ status: 'running', started_at: nowIso(), error: null });
}

/** Saves how far the run got: a retried run resumes after `cursor` with these totals. */
export async function saveRunProgress(db: Knex, id: string, progress: { cursor: string; selected: number; enqueued: number }): Promise<void> {
  await db('billing_runs').where({ id }).update(progress);
}

export async function finishRun(db: Knex, id: string, status: 'enqueued' | 'failed', more: { error?: string; awaitingSdi?: number } = {}): Promise<void> {
  await db('billing_runs')
    .where({ id })
    .update({ status, finished_at: nowIso(), error: more.error ?? null, ...(more.awaitingSdi === undefined ? {} : { awaiting_sdi: more.awaitingSdi }) });
}

/** The next page of invoices this run may charge: accepted by the SdI, PENDING, due by the cutoff, not waiting for a dunning attempt; by id. */
export async function selectChargeable(db: Knex, run: BillingRunRow, afterId: string | null, limit: number): Promise<string[]> {
  const now = nowIso();
  const query = owedBy(db('invoices').select('id'), db, run.cutoffDate)
    .whereIn('status', CHARGEABLE_STATUSES)
    .andWhere((q) => q.whereNull('next_charge_at').orWhere('next_charge_at', '<=', now))
    .orderBy('id')
    .limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Row) => String(r.id));
}

/** Invoices that would be owed by the cutoff but that the SdI has not accepted yet: counted, left for a later run. */
export async function countAwaitingSdi(db: Knex, cutoffDate: string, principal?: Principal): Promise<number> {
  const query = owedBy(db('invoices'), db, cutoffDate).whereIn('status', AWAITING_SDI_STATUSES).count({ n: '*' });
  if (principal) scopeToCustomers(query, db, principal, 'invoices.customer_id');
  const row = await query.first();
  return toNumber(row?.n ?? 0);
}

/** PENDING, with something to charge, due by the cutoff. */
function owedBy(query: Knex.QueryBuilder, db: Knex, cutoffDate: string): Knex.QueryBuilder {
  return query
    .where('payment_status', 'PENDING')
    .andWhere('total_cents', '>', 0)
    .andWhere(db.raw('coalesce(due_date, issue_date)'), '<=', cutoffDate);
}

/**
 * Takes the invoices for this run with one conditional update: those another recent run took stay with it, so
 * overlapping runs split the work instead of doubling it. Returns the ids taken (again, on a retry).
 */
export async function claimForRun(db: Knex, run: BillingRunRow, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const heldUntil = new Date(Date.parse(run.createdAt) - RUN_HOLD_MS).toISOString();
  const rows: unknown[] = await db('invoices')
    .whereIn('id', ids)
    .andWhere('payment_status', 'PENDING')
    .whereIn('status', CHARGEABLE_STATUSES)
    .andWhere((q) =>
      q
        .whereNull('billing_run_id')
        .orWhere('billing_run_id', run.id)
        .orWhereIn('billing_run_id', db('billing_runs').select('id').where('created_at', '<', heldUntil)),
    )
    .update({ billing_run_id: run.id })
    .returning('id');
  return rows.map(returnedId);
}

export interface RunCounts {
  selected: number;
  enqueued: number;
  paid: number;
  failed: number;
  /** Declined for the balance, waiting for the next dunning attempt. */
  retrying: number;
  /** Not charged yet (or a charge in flight). */
  pending: number;
  /** Due, but not accepted by the SdI when the run paged (for a client: now): not taken, a later run charges them. */
  awaitingSdi: number;
}

async function liveCounts(db: Knex, principal: Principal, runId: string): Promise<Omit<RunCounts, 'selected' | 'enqueued' | 'awaitingSdi'>> {
  const query = db('invoices')
    .select('payment_status', db.raw('case when dunning_step > 0 then 1 else 0 end as dunning'))
    .count({ n: '*' })
    .where('billing_run_id', runId)
    .groupBy('payment_status', db.raw('case when dunning_step > 0 then 1 else 0 end'));
  scopeToCustomers(query, db, principal, 'invoices.customer_id');
  const counts = { paid: 0, failed: 0, retrying: 0, pending: 0 };
  for (const r of (await query) as Row[]) {
    const n = toNumber(r.n);
    if (r.payment_status === 'PAID') counts.paid += n;
    else if (r.payment_status === 'FAILED') counts.failed += n;
    else if (toNumber(r.dunning) === 1) counts.retrying += n;
    else counts.pending += n;
  }
  return counts;
}

/**
 * The public view of a run. The status goes queued → running (paging) → charging (all enqueued, some unsettled)
 * → completed; or failed. A client sees the counts of its own customers' invoices only.
 */
export async function billingRunView(db: Knex, principal: Principal, run: BillingRunRow) {
  const live = await liveCounts(db, principal, run.id);
  const taken = live.paid + live.failed + live.retrying + live.pending;
  const counts: RunCounts = isOperator(principal)
    ? { selected: run.selected, enqueued: run.enqueued, ...live, awaitingSdi: run.awaitingSdi }
    : { selected: taken, enqueued: taken, ...live, awaitingSdi: await countAwaitingSdi(db, run.cutoffDate, principal) };
  const status = run.status === 'enqueued' ? (live.pending + live.retrying > 0 ? 'charging' : 'completed') : run.status;
  return {
    id: run.id,
    status,
    cutoffDate: run.cutoffDate,
    requestedBy: run.requestedBy,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    counts,
    error: run.error,
  };
}

export async function listBillingRuns(db: Knex, page: PageArgs): Promise<Page<BillingRunRow>> {
  const rows: Row[] = await keysetPage(db('billing_runs').select('billing_runs.*'), 'billing_runs', page.limit, page.after);
  return toPage(rows.map(toRun), page.limit);
}
