// npm run bench:ingest — requests/s and p99 of POST /v1/invoices against a bare express route doing only queue.add,
// each the median of alternating 10-second rounds at 50 connections; the last line is the ratio ours ÷ bare.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, RedisServer } from '../scripts/redis-server.js';
import { insertCustomer } from '../shared/access/customers.js';
import { addApiKey, insertUser, linkCustomer } from '../shared/access/users.js';
import { createDb, migrateLatest } from '../shared/platform/db.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** A realistic invoice of about 1 KB; each request gets its own number so none is a resubmission. */
function invoice(n: number): string {
  return JSON.stringify({
    customerId: 'bench-customer',
    number: `B-${process.pid}-${n}`,
    issueDate: '2026-11-01',
    dueDate: '2026-12-01',
    currency: 'EUR',
    callbackUrl: 'https://hooks.example.com/antaeus/invoices',
    lines: [
      { description: 'Consulenza sistemistica, ottobre 2026: 12 ore presso la sede del cliente, incluse trasferte', quantity: '12', unitPrice: '85.00', vatRate: '22' },
      { description: 'Licenza software gestionale, canone mensile, piano Professional con 10 utenti', quantity: 1, unitPrice: '149.90', vatRate: 22 },
      { description: 'Manutenzione evolutiva del modulo di fatturazione elettronica, rilascio 4.2', quantity: '6.5', unitPrice: '70.00', vatRate: '22' },
      { description: 'Hosting gestito, server dedicato in datacenter a Milano, novembre 2026', quantity: 1, unitPrice: '220.00', vatRate: '22' },
      { description: 'Bolli e spese di trasferta documentate, rimborso a piè di lista', quantity: 1, unitPrice: '2.00', vatRate: 0, natura: 'N1' },
    ],
  });
}

async function startServer(mode: 'antaeus' | 'bare', env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // Logs are produced but go to /dev/null: a pipe into this busy process would throttle the server, not measure it.
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'bench/ingest-server.ts', mode], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${mode} server exited with ${child.exitCode}`);
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`${mode} server did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function load(port: number, auth: string | undefined, seconds: number): Promise<autocannon.Result> {
  let n = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}/v1/invoices`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    requests: [{ setupRequest: (req) => ({ ...req, body: invoice(n++) }) }],
  });
}

const redis = await RedisServer.start();
const dir = mkdtempSync(join(tmpdir(), 'antaeus-bench-'));
const databaseUrl = join(dir, 'bench.sqlite');
const children: ChildProcess[] = [];
try {
  const db = createDb({ url: databaseUrl });
  await migrateLatest(db);
  await insertCustomer(db, {
    id: 'bench-customer',
    name: 'Bench S.r.l.',
    vatNumber: 'IT01879020517',
    address: { street: 'Via Roma 1', postalCode: '00184', city: 'Roma', country: 'IT' },
    sdiCode: 'M5UXCR1',
    currency: 'EUR',
    email: 'bench@example.com',
    username: 'bench',
  });
  const userId = await insertUser(db, { username: 'bench-client', email: 'bench@example.com', role: 'client' });
  await linkCustomer(db, userId, 'bench-customer');
  const apiKey = await addApiKey(db, userId);
  await db.destroy();

  const [antaeusPort, barePort] = [await freePort(), await freePort()];
  const env = (port: number) => ({
    ...process.env,
    NODE_ENV: 'production',
    ADMIN_PASSWORD: 'bench-only-password',
    PORT: String(port),
    REDIS_URL: redis.url,
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: 'bench',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    // The callback host is allowlisted so the figure measures Antaeus, not this machine's (absent) DNS.
    CALLBACK_ALLOWED_HOSTS: 'hooks.example.com',
  });
  children.push(await startServer('antaeus', env(antaeusPort), antaeusPort), await startServer('bare', env(barePort), barePort));

  const check = await fetch(`http://127.0.0.1:${antaeusPort}/v1/invoices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body: invoice(-1) });
  if (check.status !== 202) throw new Error(`the API refused the bench invoice: ${check.status} ${await check.text()}`);

  // Warm both up (JIT, connection pools), then alternate rounds so drift on this shared machine hits both alike.
  await load(barePort, undefined, 2);
  await load(antaeusPort, `Bearer ${apiKey}`, 2);
  const bare: autocannon.Result[] = [];
  const ours: autocannon.Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    bare.push(await load(barePort, undefined, DURATION_S));
    ours.push(await load(antaeusPort, `Bearer ${apiKey}`, DURATION_S));
  }
  for (const r of [...bare, ...ours]) {
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx answers, ${r.errors} errors`);
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  const bareRps = median(bare.map((r) => r.requests.average));
  const oursRps = median(ours.map((r) => r.requests.average));

  console.log(`connections: ${CONNECTIONS}`);
  console.log(`duration_s: ${DURATION_S}`);
  console.log(`rounds: ${ROUNDS}`);
  console.log(`bare_requests_per_s: ${bareRps.toFixed(0)}`);
  console.log(`bare_p99_ms: ${median(bare.map((r) => r.latency.p99))}`);
  console.log(`antaeus_requests_per_s: ${oursRps.toFixed(0)}`);
  console.log(`antaeus_p99_ms: ${median(ours.map((r) => r.latency.p99))}`);
  console.log(`ratio: ${(oursRps / bareRps).toFixed(2)}`);
} finally {
  for (const child of children) child.kill('SIGTERM');
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
