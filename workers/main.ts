// The `worker` process: one BullMQ Worker per queue in WORKER_QUEUES, the job schedulers upserted, a graceful stop on SIGTERM.
import { upsertJobSchedulers } from '../queues/schedules.js';
import { wireProcess } from '../queues/wiring.js';
import { configOrExit, onShutdown } from '../shared/platform/process.js';
import { startFleet, UnservedQueueError, type Fleet } from './fleet.js';

const config = configOrExit();
if (config.workerQueues.includes('sdi-send') && !config.smtpUrl) {
  console.error('SMTP_URL is not set, and this worker serves sdi-send: set SMTP_URL (smtp://user:pass@host:port), or leave sdi-send out of WORKER_QUEUES.');
  process.exit(1);
}
if (config.workerQueues.includes('charge') && !config.paymentProviderUrl) {
  console.error('PAYMENT_PROVIDER_URL is not set, and this worker serves charge: set PAYMENT_PROVIDER_URL, or leave charge out of WORKER_QUEUES.');
  process.exit(1);
}
const wiring = wireProcess(config, 'worker');
const { log } = wiring.ctx;
let fleet: Fleet;
try {
  fleet = startFleet(wiring.ctx);
} catch (err) {
  if (!(err instanceof UnservedQueueError)) throw err;
  console.error(err.message);
  process.exit(1);
}

onShutdown(async () => {
  await fleet.close(config.shutdownGraceMs);
  await wiring.close();
  log.info('worker stopped');
}, log);

// Waits for Redis like the workers do; every worker upserts the same schedulers, so any one of them suffices.
await upsertJobSchedulers(wiring.ctx.queues, config).catch((err: unknown) => log.error({ err }, 'could not upsert the job schedulers'));
