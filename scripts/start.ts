// `npm start`: the whole system in one process on embedded defaults — migrations, seed, API, Bull Board, workers and the development stand-ins.
// package.json runs it as `exec node --import tsx scripts/start.ts`: the shell (dash does not exec a lone command)
// and tsx's own CLI (a parent process around node) would each be a process between npm and this one that takes
// npm's SIGTERM and dies without passing it on, leaving this process and its redis-server running as orphans.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { ADMIN_PATH } from '../api/admin.js';
import { createApp } from '../api/app.js';
import { upsertJobSchedulers } from '../queues/schedules.js';
import { wireProcess } from '../queues/wiring.js';
import { signingSecrets } from '../shared/callbacks/secrets.js';
import type { Config } from '../shared/platform/config.js';
import { migrateLatest } from '../shared/platform/db.js';
import { configOrExit, onShutdown } from '../shared/platform/process.js';
import { createProducerConnection, waitForRedis } from '../shared/platform/redis.js';
import { checkRedisDurability } from '../shared/platform/redis-durability.js';
import { startFleet } from '../workers/fleet.js';
import { startSweepClock } from '../workers/sweep-clock.js';
import { DEMO_ACCOUNTS, seedDevelopment, submitDemoInvoices } from './demo-data.js';
import { RedisServer } from './redis-server.js';
import { CallbackInbox } from './sandboxes/callback-inbox.js';
import { DataProviderSandbox } from './sandboxes/data-providers.js';
import { FulfilmentSandbox } from './sandboxes/fulfilment-service.js';
import { PaymentSandbox } from './sandboxes/payment-provider.js';
import { SdiSimulator } from './sandboxes/sdi-simulator.js';

const DATA_DIR = resolve('data');

/**
 * Development secrets generated once and kept in ./data, so the demo key and board password survive restarts.
 * With DEMO_API_KEY and ADMIN_PASSWORD both set nothing is read or written.
 */
function devSecrets(): { demoApiKey: string; adminPassword: string } {
  if (process.env.DEMO_API_KEY && process.env.ADMIN_PASSWORD) return { demoApiKey: process.env.DEMO_API_KEY, adminPassword: process.env.ADMIN_PASSWORD };
  const file = join(DATA_DIR, 'dev-secrets.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { demoApiKey: string; adminPassword: string };
  } catch {
    const secrets = { demoApiKey: `ak_demo_${randomBytes(24).toString('base64url')}`, adminPassword: randomBytes(12).toString('base64url') };
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    return secrets;
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const probe = createProducerConnection(url, { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await waitForRedis(probe, 1500);
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Uses Redis at REDIS_URL; when none answers and REDIS_URL was not set, starts a private redis-server. */
async function ensureRedis(config: Config): Promise<RedisServer | undefined> {
  if (await redisAnswers(config.redisUrl)) return undefined;
  if (process.env.REDIS_URL) {
    console.error(`No Redis answers at REDIS_URL=${config.redisUrl}: start it, or unset REDIS_URL to let npm start run a private one.`);
    process.exit(1);
  }
  if (spawnSync('redis-server', ['--version']).error) {
    console.error(`No Redis answers at ${config.redisUrl} and redis-server is not on the PATH: install Redis (apt install redis-server, brew install redis) or set REDIS_URL.`);
    process.exit(1);
  }
  // With an append-only file fsynced on every write, and no eviction, as Redis must run under BullMQ; it is stopped
  // with this process (SIGTERM, so the file is complete), and on Linux also when this process is SIGKILLed.
  const dir = join(DATA_DIR, 'redis');
  mkdirSync(dir, { recursive: true });
  const server = await RedisServer.start({ dir, persistence: 'aof' });
  console.log(`No Redis at ${config.redisUrl}: started a private redis-server at ${server.url}, its data in ${dir}`);
  return server;
}

const secrets = devSecrets();
const config: Config = configOrExit({
  ...process.env,
  DEMO_API_KEY: process.env.DEMO_API_KEY || secrets.demoApiKey,
  ADMIN_PASSWORD: process.env.ADMIN_PASSWORD || secrets.adminPassword,
});
const privateRedis = await ensureRedis(config);
const withRedis: Config = privateRedis ? { ...config, redisUrl: privateRedis.url } : config;

const wiring = wireProcess(withRedis, 'antaeus');
const { log, db } = wiring.ctx;
const durability = await checkRedisDurability({ redis: wiring.ctx.queues.connection, production: withRedis.nodeEnv === 'production', log, processName: 'npm start' });
if (durability.outcome === 'refused') process.exit(1);
await migrateLatest(db);
const { apiKey, operatorId } = await seedDevelopment(db, withRedis.demoApiKey);

const server = createApp(wiring.ctx);
const listening = server.listen(withRedis.port);
await new Promise<void>((resolve) => {
  listening.once('listening', resolve);
  listening.once('error', (err: Error) => {
    console.error(`Cannot listen on port ${withRedis.port}: ${err.message}. Set PORT to another port.`);
    process.exit(1);
  });
});
const port = (listening.address() as AddressInfo).port;

// Without SMTP_URL the invoices go to the development SdI, which answers through the API like the real one.
const simulator = withRedis.smtpUrl
  ? undefined
  : await SdiSimulator.start({
      inboxDir: resolve(withRedis.sdiInboxDir),
      apiUrl: `http://127.0.0.1:${port}`,
      apiKey,
      delayMs: withRedis.sdiSimulatorDelayMs,
      // It is the development mail server for customers too: their mail is kept, readable, in the mailbox folder.
      mailboxDir: resolve(withRedis.mailboxDir),
      sdiAddress: withRedis.sdiAddress,
      log: log.child({ component: 'sdi-simulator' }),
      xsd: wiring.ctx.xsd,
    });
// Without PAYMENT_PROVIDER_URL charges go to the sandbox provider, with an account for each demo customer.
const paymentSandbox = withRedis.paymentProviderUrl
  ? undefined
  : await PaymentSandbox.start({ accounts: DEMO_ACCOUNTS, latencyMs: [20, 80], log: log.child({ component: 'payment-sandbox' }) });
// Without FULFILMENT_URL paid orders go to the sandbox fulfilment service: slow, and failing one call in ten.
const fulfilmentSandbox = withRedis.fulfilmentUrl
  ? undefined
  : await FulfilmentSandbox.start({ latencyMs: [200, 1000], rates: { failure: 0.1 }, log: log.child({ component: 'fulfilment-sandbox' }) });
// Without GAS_PROVIDER_URL and INTERNET_PROVIDER_URL collections go to the sandbox providers: slow, and failing about
// half the calls, like the original mock, so every collection shows its retries.
const providersSandbox =
  withRedis.gasProviderUrl && withRedis.internetProviderUrl
    ? undefined
    : await DataProviderSandbox.start({ latencyMs: [100, 800], rates: { failure: 0.5 }, log: log.child({ component: 'data-providers-sandbox' }) });
// Somewhere to point callbackUrl at while trying the API: it keeps what arrives and checks each signature against
// the demo operator's secrets (the demo key is theirs, so they sign its callbacks).
const callbackInbox = await CallbackInbox.start({
  secrets: async () => (await signingSecrets(db, operatorId)).map((s) => s.secret),
  log: log.child({ component: 'callback-inbox' }),
});
const effective: Config = {
  ...withRedis,
  gasProviderUrl: withRedis.gasProviderUrl ?? providersSandbox?.urlFor('gas'),
  internetProviderUrl: withRedis.internetProviderUrl ?? providersSandbox?.urlFor('internet'),
  smtpUrl: simulator ? simulator.smtpUrl : withRedis.smtpUrl,
  paymentProviderUrl: paymentSandbox ? paymentSandbox.url : withRedis.paymentProviderUrl,
  fulfilmentUrl: fulfilmentSandbox ? fulfilmentSandbox.url : withRedis.fulfilmentUrl,
};

const fleet = startFleet({ ...wiring.ctx, config: effective });
await upsertJobSchedulers(wiring.ctx.queues, effective);
const sweepClock = startSweepClock(wiring.ctx.queues, log);
const demoInvoices = await submitDemoInvoices(wiring.ctx, operatorId);

const base = `http://localhost:${port}`;
console.log(
  [
    '',
    'Antaeus is running.',
    `  API:          ${base}/v1   (health: ${base}/healthz)`,
    `  API docs:     ${base}/docs   (OpenAPI 3.1: ${base}/openapi.json)`,
    `  Bull Board:   ${base}${ADMIN_PATH}   (user ${effective.adminUser}, password ${effective.adminPassword})`,
    `  Demo API key: ${apiKey}`,
    `  Redis:        ${effective.redisUrl}    Database: ${effective.databaseUrl}`,
    simulator
      ? `  SdI:          simulator at ${simulator.smtpUrl}, mail kept in ${resolve(effective.sdiInboxDir)}`
      : `  SdI:          ${effective.sdiAddress} through ${redactPassword(effective.smtpUrl!)}`,
    paymentSandbox
      ? `  Payments:     sandbox provider at ${paymentSandbox.url} (its ledger: ${paymentSandbox.url}/charges)`
      : `  Payments:     ${effective.paymentProviderUrl}`,
    fulfilmentSandbox
      ? `  Fulfilment:   sandbox at ${fulfilmentSandbox.url} (its log: ${fulfilmentSandbox.url}/fulfilments; make it refuse: PUT ${fulfilmentSandbox.url}/settings {"rates":{"refuse":1}})`
      : `  Fulfilment:   ${effective.fulfilmentUrl}`,
    providersSandbox
      ? `  Providers:    sandbox gas ${effective.gasProviderUrl} and internet ${effective.internetProviderUrl}, half the calls fail (its log: ${providersSandbox.url}/requests; settings: ${providersSandbox.url}/settings)`
      : `  Providers:    gas ${effective.gasProviderUrl}, internet ${effective.internetProviderUrl}`,
    `  Callbacks:    point callbackUrl at ${callbackInbox.hookUrl('/hooks/demo')}; what arrived, signatures checked: ${callbackInbox.url}/callbacks`,
    simulator
      ? `  Mailbox:      mail to customers kept in ${resolve(effective.mailboxDir)} (one .eml per message)`
      : `  Mail:         to customers from ${effective.mailFrom} through ${redactPassword(effective.smtpUrl!)}`,
    `  Billing:      "${effective.billingCron}" in ${effective.billingTz}${demoInvoices ? `; ${demoInvoices} demo invoices submitted` : ''}`,
    `  Reports:      ${resolve(effective.reportsDir)} every ${effective.reportsEveryMinutes} minutes`,
    '',
    `  curl -H "Authorization: Bearer ${apiKey}" ${base}/v1/customers`,
    `  curl -X POST -H "Authorization: Bearer ${apiKey}" ${base}/v1/billing/runs`,
    `  curl -H "Authorization: Bearer ${apiKey}" ${base}/v1/payments`,
    `  curl -X POST -H "Authorization: Bearer ${apiKey}" -H "Content-Type: application/json" -d '{"customerId":"demo-rossi","amount":"25.00","currency":"EUR"}' ${base}/v1/orders`,
    `  curl -X POST -H "Authorization: Bearer ${apiKey}" -H "Content-Type: application/json" -d '{"provider":"gas","callbackUrl":"${callbackInbox.hookUrl('/hooks/demo')}"}' ${base}/v1/collections`,
    '',
  ].join('\n'),
);

onShutdown(async () => {
  sweepClock.stop();
  await new Promise<void>((done) => listening.close(() => done()));
  await fleet.close(effective.shutdownGraceMs);
  await simulator?.close();
  await paymentSandbox?.close();
  await fulfilmentSandbox?.close();
  await providersSandbox?.close();
  await callbackInbox.close();
  await wiring.close();
  await privateRedis?.shutdown();
}, log);

// npm passes SIGINT and SIGTERM on to this process, and Ctrl-C in a terminal signals the whole foreground group too:
// the same signal comes twice. onShutdown stops on the first and then listens no more, so the second would kill this
// process in the middle of stopping. Repeats within a second are that echo, and ignored; a later one quits at once.
let firstSignalAt: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    firstSignalAt ??= Date.now();
    if (Date.now() - firstSignalAt < 1000) return;
    console.error(`${signal} again: quitting without waiting for the jobs in flight`);
    process.exit(128 + constants.signals[signal]);
  });
}

// Run by npm, this process stops when npm is gone, even when npm could pass nothing on (SIGKILL, a crash).
if (process.env.npm_lifecycle_event === 'start') {
  const npm = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === npm) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 1000).unref();
}

function redactPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
