// What every entry point does first and last: read the configuration or exit with one line, and stop once on SIGTERM or SIGINT.
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.js';

/** Reads `.env` and the environment; on a bad value prints one line and exits, as every entry point should. */
export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  loadDotEnv();
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if stopping failed). */
export function onShutdown(stop: () => Promise<void>, log: { info(msg: string): void; error(obj: object, msg: string): void }): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
