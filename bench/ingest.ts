// npm run bench:ingest — requests/s and p99 of POST /v1/invoices against a bare express route doing only queue.add,
// each the median of alternating 10-second rounds at 50 connections; the last line is the ratio ours ÷ bare.
// Both servers run as production does (NODE_ENV=production, a Redis with AOF and noeviction); any failure exits 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, RedisServer } from '../scripts/redis-server.js';
import { insertCustomer } from '../shared/access/customers.js';
import { addApiKey, insertUser, linkCustomer } from '../shared/access/users.js';
import { createDb, migrateLatest } from '../shared/platform/db.js';

const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number ≥ 1, got ${raw}`);
  return n;
};

const DURATION_S = int('BENCH_DURATION', 10);
const CONNECTIONS = int('BENCH_CONNECTIONS', 50);
const ROUNDS = int('BENCH_ROUNDS', 3);
const WARMUP_S = Math.min(2, DURATION_S);
/** `everysec` (default) or `always`: how often the bench Redis fsyncs its append-only file. */
const APPENDFSYNC = process.env.BENCH_REDIS_APPENDFSYNC || 'everysec';
if (!['everysec', 'always'].includes(APPENDFSYNC)) throw new Error(`BENCH_REDIS_APPENDFSYNC must be everysec or always, got ${APPENDFSYNC}`);
/** Far above any load here: the rate limiter runs on every request, as in production, but never refuses one. */
const RATE_LIMIT = '1000000';

const progress = (msg: string) => process.stderr.write(`[bench:ingest] ${msg}\n`);

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

type Mode = 'antaeus' | 'bare';

/** A server child process; `died` is set when it exits without being asked to. */
interface Server {
  mode: Mode;
  child: ChildProcess;
  stopping: boolean;
  died?: Error;
}

const servers: Server[] = [];
/** Invoices sent so far, across rounds: a number used again would be a resubmission, which the API answers cheaper. */
let sent = 0;

/** Starts `bench/ingest-server.ts <mode>` and resolves once `readyPath` answers 200; fails if it exits first. */
async function startServer(mode: Mode, env: NodeJS.ProcessEnv, port: number, readyPath: string): Promise<Server> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // Logs are produced but go to /dev/null: a pipe into this busy process would throttle the server, not measure it.
  // Its stderr is ours: a refusal to start (configuration, Redis durability) says why there.
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'bench/ingest-server.ts', mode], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const server: Server = { mode, child, stopping: false };
  servers.push(server);
  child.once('error', (err) => (server.died ??= new Error(`${mode} server could not run: ${err.message}`)));
  child.once('exit', (code, signal) => {
    if (!server.stopping) server.died ??= new Error(`${mode} server exited with ${code ?? signal}`);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.died) throw server.died;
    const up = await fetch(`http://127.0.0.1:${port}${readyPath}`).then((r) => r.ok, () => false);
    if (up) return server;
    if (Date.now() > deadline) throw new Error(`${mode} server did not answer ${readyPath} within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, as an orchestrator stops it (and so `--cpu-prof` writes its profile); SIGKILL if it is not gone in 10 s. */
async function stopServer(server: Server): Promise<void> {
  server.stopping = true;
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined where there is no /proc. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined;
  // Fields after the command name (which may hold spaces, hence the last parenthesis): utime and stime are 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One load round; throws if the server died or answered anything but 2xx, so no figure is made of failures. */
async function load(server: Server, port: number, auth: string | undefined, seconds: number): Promise<autocannon.Result & { cpuUsPerRequest?: number }> {
  const cpuBefore = cpuSeconds(server.child.pid);
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/v1/invoices`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    requests: [{ setupRequest: (req) => ({ ...req, body: invoice(sent++) }) }],
  });
  if (server.died) throw server.died;
  if (result.non2xx > 0 || result.errors > 0) {
    const statuses = (['1xx', '3xx', '4xx', '5xx'] as const).map((c) => `${result[c]} ${c}`).join(', ');
    throw new Error(`${server.mode}: ${result.non2xx} non-2xx answers (${statuses}), ${result.errors} connection errors (${result.timeouts} timeouts)`);
  }
  if (result.requests.total === 0) throw new Error(`${server.mode}: no request completed in ${seconds} s`);
  const cpuAfter = cpuSeconds(server.child.pid);
  // CPU per request is steadier than requests/s on a machine whose two cores the load and Redis share too.
  const cpuUsPerRequest = cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1e6) / result.requests.total : undefined;
  return { ...result, cpuUsPerRequest };
}

const dir = mkdtempSync(join(tmpdir(), 'antaeus-bench-'));
const databaseUrl = join(dir, 'bench.sqlite');
let redis: RedisServer | undefined;
let cleaned: Promise<void> | undefined;
const cleanup = () =>
  (cleaned ??= (async () => {
    await Promise.all(servers.map(stopServer));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}

try {
  // As production requires (README, "Redis in production"): an append-only file and noeviction; `web` refuses any
  // other Redis with NODE_ENV=production. Both servers share it. The AOF is fsynced every second (Redis's default)
  // rather than on every write: here `always` would measure this machine's disk, a ceiling both servers hit alike.
  redis = await RedisServer.start({ dir: join(dir, 'redis'), persistence: 'aof', args: ['--appendfsync', APPENDFSYNC] });

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
  const env = (port: number): NodeJS.ProcessEnv => ({
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    REDIS_URL: redis!.url,
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: 'bench',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    ADMIN_PASSWORD: 'bench-only-password',
    // Required in production; never reached here: intake only enqueues, and no worker runs to mail or charge.
    SMTP_URL: 'smtp://127.0.0.1:9',
    PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
    SELLER_NAME: 'Antaeus Bench S.r.l.',
    SELLER_VAT_NUMBER: 'IT01234567897',
    SELLER_STREET: 'Via dei Giganti 1',
    SELLER_POSTAL_CODE: '20121',
    SELLER_CITY: 'Milano',
    // The callback host is allowlisted so the figure measures Antaeus, not this machine's (absent) DNS.
    CALLBACK_ALLOWED_HOSTS: 'hooks.example.com',
    RATE_LIMIT_PER_SECOND: RATE_LIMIT,
    RATE_LIMIT_BURST: RATE_LIMIT,
  });
  // Ready means Redis and the database answer; web answers only once its start-up checks have passed.
  const ours = await startServer('antaeus', env(antaeusPort), antaeusPort, '/readyz');
  const bare = await startServer('bare', env(barePort), barePort, '/healthz');
  const auth = `Bearer ${apiKey}`;

  const check = await fetch(`http://127.0.0.1:${antaeusPort}/v1/invoices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: invoice(-1) });
  if (check.status !== 202) throw new Error(`the API refused the bench invoice: ${check.status} ${await check.text()}`);

  // Warm both up (JIT, connection pools), then alternate rounds so drift on this shared machine hits both alike.
  progress(`warm-up, ${WARMUP_S} s each`);
  await load(bare, barePort, undefined, WARMUP_S);
  await load(ours, antaeusPort, auth, WARMUP_S);
  const bareRounds: Awaited<ReturnType<typeof load>>[] = [];
  const ourRounds: Awaited<ReturnType<typeof load>>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    bareRounds.push(await load(bare, barePort, undefined, DURATION_S));
    ourRounds.push(await load(ours, antaeusPort, auth, DURATION_S));
    progress(`round ${round}/${ROUNDS}: bare ${bareRounds.at(-1)!.requests.average.toFixed(0)}/s, antaeus ${ourRounds.at(-1)!.requests.average.toFixed(0)}/s`);
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  const bareRps = median(bareRounds.map((r) => r.requests.average));
  const oursRps = median(ourRounds.map((r) => r.requests.average));

  console.log(`connections: ${CONNECTIONS}`);
  console.log(`duration_s: ${DURATION_S}`);
  console.log(`rounds: ${ROUNDS}`);
  console.log(`bare_requests_per_s: ${bareRps.toFixed(0)}`);
  console.log(`bare_p99_ms: ${median(bareRounds.map((r) => r.latency.p99))}`);
  console.log(`antaeus_requests_per_s: ${oursRps.toFixed(0)}`);
  console.log(`antaeus_p99_ms: ${median(ourRounds.map((r) => r.latency.p99))}`);
  const cpu = (rounds: typeof ourRounds) => (rounds.every((r) => r.cpuUsPerRequest !== undefined) ? median(rounds.map((r) => r.cpuUsPerRequest!)) : undefined);
  const [bareCpu, oursCpu] = [cpu(bareRounds), cpu(ourRounds)];
  if (bareCpu !== undefined && oursCpu !== undefined) {
    console.log(`bare_cpu_us_per_request: ${bareCpu.toFixed(0)}`);
    console.log(`antaeus_cpu_us_per_request: ${oursCpu.toFixed(0)}`);
    console.log(`cpu_ratio: ${(bareCpu / oursCpu).toFixed(2)}`);
  }
  console.log(`ratio: ${(oursRps / bareRps).toFixed(2)}`);
} catch (err) {
  // Whatever failed, no figures: why on stderr (the stack too for a bug rather than a refusal) and exit code 1.
  const plain = err instanceof Error && err.constructor === Error;
  process.stderr.write(`[bench:ingest] failed: ${plain ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// Nothing of ours is left running; a keep-alive socket or a timer of a library must not keep the exit code waiting.
process.exit();
