// The `web` process: the HTTP API and Bull Board. It never processes jobs.
import { randomBytes } from 'node:crypto';
import { wireProcess } from '../queues/wiring.js';
import { configOrExit, onShutdown } from '../shared/platform/process.js';
import { checkRedisDurability } from '../shared/platform/redis-durability.js';
import { ADMIN_PATH } from './admin.js';
import { createApp } from './app.js';

const config = configOrExit();
// Production requires ADMIN_PASSWORD (config.ts); elsewhere one is made up for this run and printed.
const adminPassword = config.adminPassword ?? randomBytes(12).toString('base64url');
const wiring = wireProcess({ ...config, adminPassword }, 'web');
const { log } = wiring.ctx;
// In production, a Redis that would lose jobs (no AOF, or evicting keys) is refused with one line.
const durability = await checkRedisDurability({ redis: wiring.ctx.queues.connection, production: config.nodeEnv === 'production', log, processName: 'web' });
if (durability.outcome === 'refused') process.exit(1);
const server = createApp(wiring.ctx).listen(config.port, (err?: Error) => {
  if (err) {
    log.fatal({ err }, `cannot listen on port ${config.port}`);
    process.exit(1);
  }
  log.info({ port: config.port }, `API listening on http://localhost:${config.port}; its reference at /docs`);
  if (!config.adminPassword) log.info(`Bull Board at ${ADMIN_PATH}: user ${config.adminUser}, password ${adminPassword} (set ADMIN_PASSWORD to choose it)`);
});

onShutdown(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await wiring.close();
}, log);
