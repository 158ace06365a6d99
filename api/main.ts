// The `web` process: the HTTP API and Bull Board. It never processes jobs.
import { configOrExit, createRuntime, onShutdown } from '../shared/runtime.js';
import { createApp } from './app.js';

const config = configOrExit();
const runtime = createRuntime(config, 'web');
const { log } = runtime.ctx;
const server = createApp(runtime.ctx).listen(config.port, (err?: Error) => {
  if (err) {
    log.fatal({ err }, `cannot listen on port ${config.port}`);
    process.exit(1);
  }
  log.info({ port: config.port }, `API listening on http://localhost:${config.port}`);
});

onShutdown(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await runtime.close();
}, log);
