// A worker process of bench/billing.ts: the billing and charge fleet (in-process or HTTP provider), or a raw no-op BullMQ Worker.
// It counts completed jobs and reports them over IPC; on "stop" it closes and reports its ledger and peak RSS.
import { Worker } from 'bullmq';
import { queuePolicies } from '../queues/policy.js';
import { wireProcess } from '../queues/wiring.js';
import { SandboxLedger, sandboxProvider } from '../scripts/sandboxes/payment-ledger.js';
import { loadConfig } from '../shared/platform/config.js';
import { createWorkerConnection } from '../shared/platform/redis.js';
import { startFleet } from '../workers/fleet.js';

export type WorkerMode = 'raw' | 'overhead' | 'latency';

/** Parent → child. */
export type ToWorker = { type: 'stop' };
/** Child → parent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; completed: number; failed: number }
  | ({ type: 'report' } & WorkerReport);

/** What a worker child tells at the end of a phase. */
export interface WorkerReport {
  completed: number;
  failed: number;
  ledgerEntries: number;
  ledgerCharged: number;
  ledgerKeys: string[];
  maxRssKb: number;
  /** CPU time (user + system) from ready to stop. */
  cpuMs: number;
}

// The parent imports only types from here (a value import would run this file): names come in the environment.
const RAW_QUEUE = process.env.BENCH_RAW_QUEUE ?? 'bench-raw';
const BENCH_CUSTOMER = process.env.BENCH_CUSTOMER ?? 'bench-customer';

const mode = process.argv[2] as WorkerMode;
if (!['raw', 'overhead', 'latency'].includes(mode) || !process.send) {
  console.error('usage: started by bench/billing.ts with an IPC channel, mode raw | overhead | latency');
  process.exit(2);
}
const send = (message: FromWorker) => process.send!(message);
// An orphan has nobody to report to.
process.on('disconnect', () => process.exit(1));

const config = loadConfig(process.env);
const wiring = wireProcess(config, 'bench-worker');
const ledger = new SandboxLedger();
ledger.setAccount(BENCH_CUSTOMER, { balance: Number.MAX_SAFE_INTEGER, currency: 'EUR' });

let completed = 0;
let failed = 0;
let close: () => Promise<void>;

if (mode === 'raw') {
  // Plain BullMQ with the settings the fleet gives the charge queue: same concurrency, lock and stalled check.
  const policy = queuePolicies(config).charge;
  const connection = createWorkerConnection(config.redisUrl);
  connection.on('error', () => undefined);
  const worker = new Worker(RAW_QUEUE, async () => undefined, {
    connection,
    prefix: config.queuePrefix,
    concurrency: policy.concurrency,
    lockDuration: config.jobLockMs,
    stalledInterval: config.jobLockMs,
    maxStalledCount: policy.maxStalledCount,
  });
  worker.on('error', () => undefined);
  worker.on('completed', () => completed++);
  worker.on('failed', () => failed++);
  await worker.waitUntilReady();
  close = async () => {
    await worker.close();
    connection.disconnect();
  };
} else {
  // The in-process provider measures Antaeus alone; the latency phase uses the HTTP client from PAYMENT_PROVIDER_URL.
  const fleet = startFleet(wiring.ctx, { queues: ['charge', 'billing'], services: mode === 'overhead' ? { payments: sandboxProvider(ledger) } : {} });
  for (const worker of fleet.workers) {
    if (worker.name !== 'charge') continue;
    worker.on('completed', (job) => job.name === 'charge' && completed++);
    worker.on('failed', (job) => job?.name === 'charge' && failed++);
  }
  await Promise.all(fleet.workers.map((w) => w.waitUntilReady()));
  close = () => fleet.close(5000);
}

const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

let reported = { completed: -1, failed: -1 };
const ticker = setInterval(() => {
  if (completed === reported.completed && failed === reported.failed) return;
  reported = { completed, failed };
  send({ type: 'progress', completed, failed });
}, 10);

process.on('message', (message: ToWorker) => {
  if (message.type !== 'stop') return;
  void (async () => {
    clearInterval(ticker);
    await close();
    const entries = ledger.entries();
    const report: FromWorker = {
      type: 'report',
      completed,
      failed,
      ledgerEntries: entries.length,
      ledgerCharged: entries.filter((e) => e.charged).length,
      ledgerKeys: entries.map((e) => e.idempotencyKey),
      maxRssKb: process.resourceUsage().maxRSS,
      cpuMs: cpuMsSince(cpuAtReady),
    };
    await wiring.close();
    // Disconnect only once the report is written to the channel, so it cannot be lost on the way.
    process.send!(report, undefined, {}, () => process.disconnect());
  })();
});

const cpuAtReady = process.cpuUsage();
send({ type: 'ready' });
