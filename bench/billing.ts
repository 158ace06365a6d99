// npm run bench:billing — invoices/s of a billing run over N pending invoices: with a zero-latency provider against raw BullMQ, and with a 20 ms HTTP provider against a one-by-one loop.
// Each phase is timed from enqueueing the billing-run job until the worker child processes (startFleet) report every charge job completed; then every invoice must be PAID, with N ledger charges.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { jobIds } from '../queues/jobs.js';
import { queuePolicies } from '../queues/policy.js';
import { defaultJobOptions } from '../queues/producer.js';
import { wireProcess } from '../queues/wiring.js';
import { freePort, RedisServer } from '../scripts/redis-server.js';
import { PaymentSandbox } from '../scripts/sandboxes/payment-provider.js';
import { actors } from '../shared/access/actors.js';
import { chargeKeys } from '../shared/billing/charge-path.js';
import { paymentIdForCharge } from '../shared/billing/payments.js';
import { createHttpPaymentProvider } from '../shared/billing/provider/http-provider.js';
import { createBillingRun } from '../shared/billing/runs.js';
import { loadConfig } from '../shared/platform/config.js';
import { createDb, migrateLatest, nowIso } from '../shared/platform/db.js';
import { newId } from '../shared/platform/ids.js';
import { createProducerConnection, waitForRedis } from '../shared/platform/redis.js';
import type { FromWorker, ToWorker, WorkerMode, WorkerReport } from './billing-worker.js';

const int = (name: string, fallback: number, min = 1): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, got ${raw}`);
  return n;
};

const N = int('BENCH_N', 100_000);
const LATENCY_N = int('BENCH_LATENCY_N', N);
const SEQUENTIAL_N = int('BENCH_SEQUENTIAL_N', 300);
/** Worker processes, each running the fleet (or the raw Worker). */
const WORKERS = int('BENCH_WORKERS', 2);
/** Charge jobs in flight per worker process: the charge queue's WORKER_CONCURRENCY. */
const CONCURRENCY = int('BENCH_CONCURRENCY', 150);
const LATENCY_MS = int('BENCH_LATENCY_MS', 20);
/** A phase that makes no progress for this long has failed. */
const STALL_MS = int('BENCH_STALL_MS', 60_000);

const PREFIX = 'bench';
const RAW_QUEUE = 'bench-raw';
const CUSTOMER = 'bench-customer';
const ACTOR = actors.user('bench-operator');
const CUTOFF = '2026-12-01';
const INVOICE_CENTS = 12_200;

const progress = (msg: string) => process.stderr.write(`[bench:billing] ${msg}\n`);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const perSecond = (n: number, ms: number) => (n * 1000) / ms;

/** Pending invoices as the SdI flow leaves them, 500 rows per insert, in one transaction; returns their ids. */
async function insertPendingInvoices(db: Knex, count: number, dueDate: string): Promise<string[]> {
  const at = nowIso();
  const tag = newId().slice(0, 6);
  const ids: string[] = [];
  await db.transaction(async (trx) => {
    for (let start = 0; start < count; start += 500) {
      const rows = [];
      for (let i = start; i < Math.min(count, start + 500); i++) {
        const id = newId();
        ids.push(id);
        rows.push({
          id,
          kind: 'internal',
          customer_id: CUSTOMER,
          number: `B${tag}/${i}`,
          issue_date: '2026-10-01',
          due_date: dueDate,
          currency: 'EUR',
          taxable_cents: INVOICE_CENTS,
          vat_cents: 0,
          total_cents: INVOICE_CENTS,
          status: 'INTERNAL_INVOICE_DELIVERED',
          payment_status: 'PENDING',
          callback_url: null,
          created_at: at,
          created_by: ACTOR,
          updated_at: at,
          updated_by: ACTOR,
        });
      }
      await trx('invoices').insert(rows);
    }
  });
  return ids;
}

async function freshDb(name: string, invoices: number): Promise<{ db: Knex; url: string }> {
  const url = join(dir, `${name}.sqlite`);
  const db = createDb({ url });
  await migrateLatest(db);
  const started = performance.now();
  await insertPendingInvoices(db, invoices, '2026-11-01');
  progress(`${name}: ${invoices} pending invoices inserted in ${Math.round(performance.now() - started)} ms`);
  return { db, url };
}

type Report = WorkerReport;

/** The worker child processes of one phase: started together, counted together, stopped together. */
class Workers {
  private readonly children: ChildProcess[] = [];
  private readonly counts: { completed: number; failed: number }[] = [];
  private readonly reports: (Report | undefined)[] = [];
  private exited: Error | undefined;
  private stopping = false;
  private onChange: (() => void) | undefined;

  static async start(mode: WorkerMode, env: NodeJS.ProcessEnv): Promise<Workers> {
    const workers = new Workers();
    await Promise.all(Array.from({ length: WORKERS }, (_, i) => workers.spawn(i, mode, env)));
    return workers;
  }

  private spawn(i: number, mode: WorkerMode, env: NodeJS.ProcessEnv): Promise<void> {
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    // Worker logs are silenced, and stdout is not ours to share: only `name: value` lines go there.
    const child = fork('bench/billing-worker.ts', [mode], { env, execArgv: [...profile, '--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.add(child);
    this.children[i] = child;
    this.counts[i] = { completed: 0, failed: 0 };
    return new Promise((resolve, reject) => {
      child.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'progress') this.counts[i] = { completed: message.completed, failed: message.failed };
        else if (message.type === 'report') this.reports[i] = message;
        this.onChange?.();
      });
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (!this.stopping) {
          this.exited = new Error(`${mode} worker ${i} exited with ${code ?? signal}`);
          reject(this.exited);
          this.onChange?.();
        }
      });
    });
  }

  get completed(): number {
    return this.counts.reduce((sum, c) => sum + c.completed, 0);
  }

  get failed(): number {
    return this.counts.reduce((sum, c) => sum + c.failed, 0);
  }

  /** Resolves once the workers together have completed `target` jobs; fails on a dead worker or no progress for STALL_MS. */
  async completedAtLeast(target: number): Promise<void> {
    let last = -1;
    let lastChange = Date.now();
    let stall: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (this.exited) return reject(this.exited);
          const done = this.completed;
          if (done >= target) return resolve();
          if (done !== last) [last, lastChange] = [done, Date.now()];
        };
        this.onChange = check;
        stall = setInterval(() => {
          if (Date.now() - lastChange > STALL_MS) reject(new Error(`no progress for ${STALL_MS} ms: ${this.completed} of ${target} completed, ${this.failed} failed attempts`));
        }, 1000);
        check();
      });
    } finally {
      clearInterval(stall);
      this.onChange = undefined;
    }
  }

  private stopped: Promise<Report[]> | undefined;

  /** Stops every worker and collects its report; once, however often it is called. */
  stop(): Promise<Report[]> {
    return (this.stopped ??= (async () => {
      this.stopping = true;
      const reported = this.children.map(
        (child, i) =>
          new Promise<void>((resolve) => {
            const done = () => {
              child.off('message', onMessage);
              resolve();
            };
            const onMessage = (message: FromWorker) => message.type === 'report' && done();
            if (this.reports[i] || child.exitCode !== null || child.signalCode !== null) return done();
            child.on('message', onMessage);
            // A report already on its way is read even after the exit is seen; a worker that died sends none.
            child.once('exit', () => setTimeout(done, 1000));
          }),
      );
      for (const child of this.children) if (child.connected) child.send({ type: 'stop' } satisfies ToWorker);
      await Promise.all(reported);
      const reports = this.reports.filter((r): r is Report => r !== undefined);
      if (reports.length !== this.children.length) throw new Error(`${this.children.length - reports.length} worker(s) exited without a report`);
      return reports;
    })());
  }
}

/** Every invoice of the phase PAID, one PAID payment each under its own key, and exactly that many charges on the ledger. */
async function verify(phase: string, db: Knex, expected: number, ledger: { entries: number; charged: number; distinctKeys: number }): Promise<void> {
  const problems: string[] = [];
  const count = async (query: Knex.QueryBuilder) => Number((await query.count({ n: '*' }))[0]!.n);
  const paid = await count(db('invoices').where('payment_status', 'PAID'));
  const notPaid = await count(db('invoices').whereNot('payment_status', 'PAID'));
  const payments = await count(db('payments').where({ status: 'PAID', kind: 'invoice' }));
  const allPayments = await count(db('payments'));
  if (paid !== expected || notPaid !== 0) problems.push(`${paid} invoices PAID and ${notPaid} not, expected ${expected} PAID`);
  if (payments !== expected || allPayments !== expected) problems.push(`${payments} PAID payments of ${allPayments}, expected ${expected}`);
  if (ledger.charged !== expected || ledger.entries !== expected) problems.push(`${ledger.charged} charged ledger entries of ${ledger.entries}, expected ${expected}`);
  if (ledger.distinctKeys !== expected) problems.push(`${ledger.distinctKeys} distinct idempotency keys on the ledger, expected ${expected}`);
  if (problems.length) throw new Error(`${phase}: ${problems.join('; ')}`);
  progress(`${phase}: verified ${expected} invoices PAID, ${expected} payments, ${expected} ledger charges`);
}

/** CPU time Redis has used so far, in ms. */
async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** Where the CPU of a phase went, per job: the worker processes, Redis, and this process (the HTTP sandbox, when there is one). */
async function cpuMeter(redis: Redis): Promise<(jobs: number, reports: Report[]) => Promise<string>> {
  const [redisStart, selfStart] = [await redisCpuMs(redis), process.cpuUsage()];
  return async (jobs, reports) => {
    const self = process.cpuUsage(selfStart);
    const perJob = (ms: number) => `${Math.round((ms * 1000) / jobs)} µs`;
    const workers = reports.reduce((sum, r) => sum + r.cpuMs, 0);
    const failed = reports.reduce((sum, r) => sum + r.failed, 0);
    return `${failed} failed attempts; CPU per job: workers ${perJob(workers)}, redis ${perJob((await redisCpuMs(redis)) - redisStart)}, bench process ${perJob((self.user + self.system) / 1000)}`;
  };
}

async function redisMemory(redis: Redis): Promise<{ used: number; peak: number }> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(/^(\w+):(\d+)/m.exec(info.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? NaN);
  return { used: field('used_memory'), peak: field('used_memory_peak') };
}

function workerEnv(databaseUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REDIS_URL: redisServer.url,
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: PREFIX,
    // Silent: a log line per job would measure pino and a pipe, not the charge.
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    WORKER_CONCURRENCY: `charge=${CONCURRENCY}`,
    BENCH_RAW_QUEUE: RAW_QUEUE,
    BENCH_CUSTOMER: CUSTOMER,
    ...extra,
  };
}

/** The billing run as the API starts it: a run row, then its billing-run job; returns ms until every charge job completed. */
async function billingRun(db: Knex, databaseUrl: string, workers: Workers, invoices: number): Promise<number> {
  const wiring = wireProcess(loadConfig({ REDIS_URL: redisServer.url, DATABASE_URL: databaseUrl, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'silent' }), 'bench', { db });
  try {
    await waitForRedis(wiring.ctx.queues.connection, 5000);
    const runId = newId();
    await createBillingRun(db, { id: runId, cutoffDate: CUTOFF, requestedBy: ACTOR, jobId: jobIds.billingRun(runId) });
    const started = performance.now();
    await wiring.ctx.queues.add('billing', 'billing-run', { runId }, { jobId: jobIds.billingRun(runId) });
    await workers.completedAtLeast(invoices);
    const ms = performance.now() - started;
    const run = await db('billing_runs').first('status', 'enqueued').where({ id: runId });
    if (run?.status !== 'enqueued' || Number(run.enqueued) !== invoices) throw new Error(`billing run ended ${run?.status} with ${run?.enqueued} enqueued`);
    return ms;
  } finally {
    await wiring.ctx.queues.close();
    wiring.ctx.queues.connection.disconnect();
  }
}

/** The same number of no-op jobs through plain BullMQ, added in pages of 1,000 with 4 addBulk calls in flight as the billing run does. */
async function rawBullmq(jobs: number, redis: Redis): Promise<{ ms: number; rssKb: number; cpu: string }> {
  const connection = createProducerConnection(redisServer.url);
  connection.on('error', () => undefined);
  const policy = queuePolicies(loadConfig({ WORKER_CONCURRENCY: `charge=${CONCURRENCY}` })).charge;
  const queue = new Queue(RAW_QUEUE, { connection, prefix: PREFIX, defaultJobOptions: defaultJobOptions(policy) });
  const workers = await Workers.start('raw', workerEnv(join(dir, 'raw.sqlite')));
  try {
    await queue.waitUntilReady();
    const meter = await cpuMeter(redis);
    const started = performance.now();
    const inFlight: Promise<unknown>[] = [];
    for (let start = 0; start < jobs; start += 1000) {
      const page = Array.from({ length: Math.min(1000, jobs - start) }, () => {
        const id = newId();
        return { name: 'noop', data: { invoiceId: id }, opts: { jobId: `raw-${id}` } };
      });
      inFlight.push(queue.addBulk(page));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    await workers.completedAtLeast(jobs);
    const ms = performance.now() - started;
    const reports = await workers.stop();
    return { ms, rssKb: Math.max(...reports.map((r) => r.maxRssKb)), cpu: await meter(jobs, reports) };
  } finally {
    await workers.stop().catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}

/** What the original billing service did: for each invoice in turn, call the provider, then mark it PAID and record the payment. */
async function sequential(db: Knex, providerUrl: string, ids: string[]): Promise<number> {
  const provider = createHttpPaymentProvider({ baseUrl: providerUrl, timeoutMs: 10_000 });
  const started = performance.now();
  for (const id of ids) {
    const key = chargeKeys.invoice(id, 0);
    const result = await provider.charge({ customerId: CUSTOMER, amountCents: INVOICE_CENTS, currency: 'EUR', reference: id, idempotencyKey: key });
    if (!result.charged) throw new Error(`sequential: invoice ${id} declined`);
    const at = nowIso();
    await db('invoices').where({ id }).update({ payment_status: 'PAID', updated_at: at, updated_by: 'sequential' });
    await db('payments').insert({
      id: paymentIdForCharge(key),
      payment_ref_id: newId(),
      kind: 'invoice',
      invoice_id: id,
      customer_id: CUSTOMER,
      user_id: null,
      amount_cents: INVOICE_CENTS,
      currency: 'EUR',
      status: 'PAID',
      idempotency_key: key,
      provider_charge_id: result.chargeId,
      dunning_step: 0,
      created_at: at,
      updated_at: at,
    });
  }
  return performance.now() - started;
}

// ---------------------------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
const dir = mkdtempSync(join(tmpdir(), 'antaeus-bench-billing-'));
const redisServer = await RedisServer.start({ port: await freePort() }).catch((err: unknown) => {
  rmSync(dir, { recursive: true, force: true });
  throw err;
});
const dbs: Knex[] = [];
let sandbox: PaymentSandbox | undefined;
let cleaned: Promise<void> | undefined;
const cleanup = () =>
  (cleaned ??= (async () => {
    for (const child of children) child.kill('SIGKILL');
    await sandbox?.close().catch(() => undefined);
    await Promise.all(dbs.map((db) => db.destroy().catch(() => undefined)));
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}

try {
  const redis = createProducerConnection(redisServer.url);
  redis.on('error', () => undefined);
  await waitForRedis(redis, 5000);
  const redisBefore = await redisMemory(redis);
  progress(`${WORKERS} worker processes × concurrency ${CONCURRENCY}; N=${N}, latency N=${LATENCY_N}, sequential N=${SEQUENTIAL_N}`);

  // Phase 1, overhead: raw BullMQ, then the billing run with the in-process zero-latency provider.
  const overhead = await freshDb('overhead', N);
  dbs.push(overhead.db);
  progress(`raw BullMQ: ${N} no-op jobs`);
  const raw = await rawBullmq(N, redis);
  const rawRate = perSecond(N, raw.ms);
  progress(`raw BullMQ: ${Math.round(rawRate)} jobs/s in ${(raw.ms / 1000).toFixed(1)} s; ${raw.cpu}`);

  progress(`overhead: billing run over ${N} invoices, zero-latency provider in process`);
  const overheadWorkers = await Workers.start('overhead', workerEnv(overhead.url));
  let overheadMs: number;
  const overheadCpu = await cpuMeter(redis);
  try {
    overheadMs = await billingRun(overhead.db, overhead.url, overheadWorkers, N);
  } catch (err) {
    await overheadWorkers.stop().catch(() => undefined);
    throw err;
  }
  const overheadReports = await overheadWorkers.stop();
  const overheadRate = perSecond(N, overheadMs);
  progress(`overhead: ${Math.round(overheadRate)} invoices/s in ${(overheadMs / 1000).toFixed(1)} s; ${await overheadCpu(N, overheadReports)}`);
  await verify('overhead', overhead.db, N, {
    entries: overheadReports.reduce((s, r) => s + r.ledgerEntries, 0),
    charged: overheadReports.reduce((s, r) => s + r.ledgerCharged, 0),
    distinctKeys: new Set(overheadReports.flatMap((r) => r.ledgerKeys)).size,
  });
  await overhead.db.destroy();
  dbs.splice(dbs.indexOf(overhead.db), 1);

  // Phase 2, latency: the HTTP sandbox answering after LATENCY_MS, then the one-by-one loop on a sample.
  const latency = await freshDb('latency', LATENCY_N);
  dbs.push(latency.db);
  sandbox = await PaymentSandbox.start({ latencyMs: LATENCY_MS, accounts: { [CUSTOMER]: { balance: Number.MAX_SAFE_INTEGER, currency: 'EUR' } } });
  progress(`latency: billing run over ${LATENCY_N} invoices, HTTP provider answering after ${LATENCY_MS} ms`);
  const latencyWorkers = await Workers.start('latency', workerEnv(latency.url, { PAYMENT_PROVIDER_URL: sandbox.url }));
  let latencyMs: number;
  const latencyCpu = await cpuMeter(redis);
  try {
    latencyMs = await billingRun(latency.db, latency.url, latencyWorkers, LATENCY_N);
  } catch (err) {
    await latencyWorkers.stop().catch(() => undefined);
    throw err;
  }
  const latencyReports = await latencyWorkers.stop();
  const latencyRate = perSecond(LATENCY_N, latencyMs);
  const bound = (WORKERS * CONCURRENCY * 1000) / LATENCY_MS;
  progress(`latency: ${Math.round(latencyRate)} invoices/s in ${(latencyMs / 1000).toFixed(1)} s (bound ${bound}/s); ${await latencyCpu(LATENCY_N, latencyReports)}`);
  const httpLedger = () => {
    const entries = sandbox!.ledger.entries();
    return { entries: entries.length, charged: entries.filter((e) => e.charged).length, distinctKeys: new Set(entries.map((e) => e.idempotencyKey)).size };
  };
  await verify('latency', latency.db, LATENCY_N, httpLedger());

  const sample = await insertPendingInvoices(latency.db, SEQUENTIAL_N, '2026-11-01');
  progress(`sequential: ${sample.length} invoices one by one`);
  const sequentialMs = await sequential(latency.db, sandbox.url, sample);
  const sequentialRate = perSecond(sample.length, sequentialMs);
  progress(`sequential: ${sequentialRate.toFixed(1)} invoices/s`);
  await verify('latency + sequential', latency.db, LATENCY_N + SEQUENTIAL_N, httpLedger());

  const redisAfter = await redisMemory(redis);
  redis.disconnect();
  const peakRssKb = (reports: Report[]) => Math.max(...reports.map((r) => r.maxRssKb));

  const lines: [string, string | number][] = [
    ['invoices', N],
    ['latency_invoices', LATENCY_N],
    ['sequential_invoices', SEQUENTIAL_N],
    ['worker_processes', WORKERS],
    ['concurrency', CONCURRENCY],
    ['total_concurrency', WORKERS * CONCURRENCY],
    ['provider_latency_ms', LATENCY_MS],
    ['raw_bullmq_seconds', (raw.ms / 1000).toFixed(2)],
    ['raw_bullmq_jobs_per_s', rawRate.toFixed(0)],
    ['overhead_seconds', (overheadMs / 1000).toFixed(2)],
    ['overhead_invoices_per_s', overheadRate.toFixed(0)],
    ['latency_seconds', (latencyMs / 1000).toFixed(2)],
    ['latency_invoices_per_s', latencyRate.toFixed(0)],
    ['latency_bound_per_s', bound.toFixed(0)],
    ['sequential_invoices_per_s', sequentialRate.toFixed(1)],
    // The largest worker process; in the overhead phase it also holds its share of the in-process provider's ledger.
    ['peak_worker_rss_mb', mb(peakRssKb([...overheadReports, ...latencyReports]) * 1024)],
    ['overhead_peak_worker_rss_mb', mb(peakRssKb(overheadReports) * 1024)],
    ['latency_peak_worker_rss_mb', mb(peakRssKb(latencyReports) * 1024)],
    ['raw_peak_worker_rss_mb', mb(raw.rssKb * 1024)],
    ['redis_memory_before_mb', mb(redisBefore.used)],
    ['redis_memory_after_mb', mb(redisAfter.used)],
    ['redis_memory_peak_mb', mb(redisAfter.peak)],
    ['ratio_vs_raw_bullmq', (overheadRate / rawRate).toFixed(2)],
    ['latency_bound_fraction', (latencyRate / bound).toFixed(2)],
    ['ratio_vs_sequential', (latencyRate / sequentialRate).toFixed(1)],
  ];
  for (const [name, value] of lines) console.log(`${name}: ${value}`);
} finally {
  await cleanup();
}
