// A sandbox run on its own (as its `npm run sandbox:*` script runs it) as a child of the test: the line it prints on listening, and a SIGTERM stop.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import type { Opened } from './lifecycle.js';

export interface Standalone {
  /** The first line it printed: where it listens, and what to try. */
  line: string;
  /** SIGTERM, and how it exited: `[0, null]` for a graceful stop. */
  stop(): Promise<unknown[]>;
}

/** Starts `script` with PORT=0 and waits for its first line; SIGKILLed after the test if still running. */
export async function runStandalone(script: string, opened: Opened): Promise<Standalone> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  opened({ close: () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL') });
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line'),
    exited.then(([code]) => expect.fail(`${script} exited with ${code} before it listened`)),
  ])) as string[];
  return {
    line: line!,
    stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
