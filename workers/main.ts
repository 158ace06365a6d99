// The `worker` process: one BullMQ Worker per queue in WORKER_QUEUES, the job schedulers upserted, a sweep asked for every minute, a graceful stop on SIGTERM.
import { upsertJobSchedulers } from '../queues/schedules.js';
import { wireProcess } from '../queues/wiring.js';
import { configOrExit, onShutdown } from '../shared/platform/process.js';
import { checkRedisDurability } from '../shared/platform/redis-durability.js';
import { startFleet, UnservedQueueError, type Fleet } from './fleet.js';
import { startSweepClock } from './sweep-clock.js';

const config = configOrExit();
if (config.workerQueues.includes('sdi-send') && !config.smtpUrl) {
  console.error('SMTP_URL is not set, and this worker serves sdi-send: set SMTP_URL (smtp://user:pass@host:port), or leave sdi-send out of WORKER_QUEUES.');
  process.exit(1);
}
if (config.workerQueues.includes('charge') && !config.paymentProviderUrl) {
  console.error('PAYMENT_PROVIDER_URL is not set, and this worker serves charge: set PAYMENT_PROVIDER_URL, or leave charge out of WORKER_QUEUES.');
  process.exit(1);
}
if (config.workerQueues.includes('orders') && !(config.paymentProviderUrl && config.fulfilmentUrl)) {
  console.error('PAYMENT_PROVIDER_URL and FULFILMENT_URL must be set, and this worker serves orders: set both, or leave orders out of WORKER_QUEUES.');
  process.exit(1);
}
if (config.workerQueues.includes('collect') && !(config.gasProviderUrl && config.internetProviderUrl)) {
  console.error('GAS_PROVIDER_URL and INTERNET_PROVIDER_URL must be set, and this worker serves collect: set both, or leave collect out of WORKER_QUEUES.');
  process.exit(1);
}
if (config.workerQueues.includes('mail') && !config.smtpUrl) {
  console.error('SMTP_URL is not set, and this worker serves mail: set SMTP_URL (smtp://user:pass@host:port), or leave mail out of WORKER_QUEUES.');
  process.exit(1);
}
const wiring = wireProcess(config, 'worker');
const { log } = wiring.ctx;
// In production, a Redis that would lose jobs (no AOF, or evicting keys) is refused with one line.
const durability = await checkRedisDurability({ redis: wiring.ctx.queues.connection, production: config.nodeEnv === 'production', log, processName: 'worker' });
if (durability.outcome === 'refused') process.exit(1);
let fleet: Fleet;
try {
  fleet = startFleet(wiring.ctx);
} catch (err) {
  if (!(err instanceof UnservedQueueError)) throw err;
  console.error(err.message);
  process.exit(1);
}

// At start and every minute: whatever the database owes and Redis no longer carries is queued again.
const sweepClock = startSweepClock(wiring.ctx.queues, log);

onShutdown(async () => {
  sweepClock.stop();
  await fleet.close(config.shutdownGraceMs);
  await wiring.close();
  log.info('worker stopped');
}, log);

// Waits for Redis like the workers do; every worker upserts the same schedulers, so any one of them suffices.
await upsertJobSchedulers(wiring.ctx.queues, config).catch((err: unknown) => log.error({ err }, 'could not upsert the job schedulers'));
