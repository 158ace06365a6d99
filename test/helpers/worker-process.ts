// A `worker` process (workers/main.ts) as a child of the test, pointed at the test's Redis prefix and database.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestSystem } from './system.js';

export interface WorkerProcess {
  child: ChildProcess;
  /** Every line it has logged so far. */
  lines: string[];
  /** Resolves once a log line matches. */
  logged(msg: RegExp): Promise<void>;
  exited: Promise<number | null>;
  /** SIGKILL if it still runs, and wait until it is gone. */
  close(): Promise<void>;
}

export function startWorkerProcess(system: TestSystem, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      REDIS_URL: system.config.redisUrl,
      DATABASE_URL: system.testDb.url,
      QUEUE_PREFIX: system.config.queuePrefix,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: { msg: RegExp; resolve: () => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) if (w.msg.test(line)) w.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logged = (msg: RegExp) =>
    new Promise<void>((resolve) => {
      if (lines.some((l) => msg.test(l))) resolve();
      else waiters.push({ msg, resolve });
    });
  const worker: WorkerProcess = { child, lines, logged, exited, close: () => killWorkerProcess(worker) };
  return worker;
}

/** SIGKILL, and wait until it is gone. */
export async function killWorkerProcess(worker: WorkerProcess | undefined): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGKILL');
  await worker.exited;
}
