// The `worker` process: one BullMQ Worker per queue in WORKER_QUEUES, shut down gracefully on SIGTERM.
import { createWorkerConnection } from '../shared/redis.js';
import { configOrExit, createRuntime, onShutdown } from '../shared/runtime.js';
import { startFleet } from './fleet.js';
import { handlers } from './index.js';

const config = configOrExit();
const runtime = createRuntime(config, 'worker');
const { log } = runtime.ctx;
const connection = createWorkerConnection(config.redisUrl);
connection.on('error', (err) => log.debug({ err }, 'redis connection error'));
const fleet = startFleet(runtime.ctx, { queues: config.workerQueues, handlers, policies: runtime.policies, connection });

onShutdown(async () => {
  await fleet.close(config.shutdownGraceMs);
  connection.disconnect();
  await runtime.close();
  log.info('worker stopped');
}, log);
