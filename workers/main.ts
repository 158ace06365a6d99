// The `worker` process: one BullMQ Worker per queue in WORKER_QUEUES, shut down gracefully on SIGTERM.
import { upsertJobSchedulers } from '../queues/schedules.js';
import { createWorkerConnection } from '../shared/platform/redis.js';
import { configOrExit, createRuntime, onShutdown } from '../queues/wiring.js';
import { startFleet } from './fleet.js';
import { handlers } from './index.js';
import { createWorkerServices } from './services.js';

const config = configOrExit();
if (config.workerQueues.includes('sdi-send') && !config.smtpUrl) {
  console.error('SMTP_URL is not set, and this worker serves sdi-send: set SMTP_URL (smtp://user:pass@host:port), or leave sdi-send out of WORKER_QUEUES.');
  process.exit(1);
}
if (config.workerQueues.includes('charge') && !config.paymentProviderUrl) {
  console.error('PAYMENT_PROVIDER_URL is not set, and this worker serves charge: set PAYMENT_PROVIDER_URL, or leave charge out of WORKER_QUEUES.');
  process.exit(1);
}
const runtime = createRuntime(config, 'worker');
const { log } = runtime.ctx;
const services = createWorkerServices(config, log);
const connection = createWorkerConnection(config.redisUrl);
connection.on('error', (err) => log.debug({ err }, 'redis connection error'));
const fleet = startFleet({ ...runtime.ctx, services }, { queues: config.workerQueues, handlers, policies: runtime.policies, connection, lockMs: config.jobLockMs });

onShutdown(async () => {
  await fleet.close(config.shutdownGraceMs);
  services.close();
  connection.disconnect();
  await runtime.close();
  log.info('worker stopped');
}, log);

// Waits for Redis like the workers do; every worker upserts the same schedulers, so any one of them suffices.
await upsertJobSchedulers(runtime.ctx.queues, config).catch((err: unknown) => log.error({ err }, 'could not upsert the job schedulers'));
