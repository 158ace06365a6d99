// A private redis-server child process on a free port: for `npm start` without Redis, for tests and benchmarks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * `none`: keeps nothing on disk (fast; for tests that do not restart Redis). `aof`: an append-only file fsynced on
 * every write, in `dir`, so a restart, even after SIGKILL, comes back with every acknowledged write.
 */
export type RedisPersistence = 'none' | 'aof';

export interface RedisServerOptions {
  /** @defaultValue a free port */
  port?: number;
  /** The server's working folder, created if missing; required for `aof` (Redis 7 writes `<dir>/appendonlydir`). */
  dir?: string;
  /** @defaultValue `none` */
  persistence?: RedisPersistence;
  /** More redis-server arguments, e.g. `['--rename-command', 'CONFIG', '']`. */
  args?: string[];
}

// Every running child, so that they are stopped when this process exits, however it exits but SIGKILL.
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function stopChildrenOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // An 'exit' listener runs for process.exit(), an uncaught error and the end of the event loop, not for a signal
  // without a handler nor for SIGKILL: for those, see `parentDeathSignal`. SIGTERM lets redis-server flush first.
  process.on('exit', () => {
    for (const c of children) c.kill('SIGTERM');
  });
}

let pdeathsig: boolean | undefined;

/**
 * Whether `setpriv --pdeathsig` (util-linux, Linux) is there: it asks the kernel to send SIGTERM to redis-server
 * when this process dies, even by SIGKILL, which no handler here can see. Elsewhere (macOS) the exit hook alone.
 */
function parentDeathSignal(): boolean {
  pdeathsig ??= (() => {
    const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'true'], { stdio: 'ignore' });
    return !probe.error && probe.status === 0;
  })();
  return pdeathsig;
}

export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  /** Starts a server on `port` (default: a free one) and resolves once it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (options.persistence === 'aof' && !options.dir) throw new Error('RedisServer: persistence "aof" needs a dir for the append-only file');
    const server = new RedisServer(options.port ?? (await freePort()), options);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** The redis-server process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts (or restarts, on the same port and dir) and resolves once it answers PING, its data loaded. */
  async start(): Promise<void> {
    if (this.child) return;
    const { dir, persistence = 'none', args: extra = [] } = this.options;
    // Either way Redis never evicts a key: an evicted queue key is a lost job (BullMQ needs noeviction).
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
    if (persistence === 'aof') args.push('--appendonly', 'yes', '--appendfsync', 'always');
    else args.push('--appendonly', 'no');
    if (dir) {
      mkdirSync(dir, { recursive: true });
      args.push('--dir', dir);
    }
    args.push(...extra);
    // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and Redis must outlive the
    // processes that still write to it while they stop; its owner stops it last (and the exit hook, or the kernel).
    const spawnOptions = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], detached: true };
    const child = parentDeathSignal()
      ? spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'redis-server', ...args], spawnOptions)
      : spawn('redis-server', args, spawnOptions);
    this.child = child;
    stopChildrenOnExit(child);
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    try {
      await this.waitUntilAnswering(child);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops the server at once, as a crash would (SIGKILL: nothing more is written; with `aof` every acknowledged write is already on disk). */
  async stop(): Promise<void> {
    await this.end('SIGKILL');
  }

  /**
   * Stops the server as an operator would: SIGTERM makes redis-server finish writing and fsync the append-only
   * file, then exit. SIGKILL if it is not gone within `timeoutMs`.
   */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    await this.end('SIGTERM', timeoutMs);
  }

  private async end(signal: NodeJS.Signals, timeoutMs?: number): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(signal);
    });
  }

  private async waitUntilAnswering(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 10_000;
    // Its log (stdout) and errors (stderr), the last few lines of them, to say why it did not start.
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    let failure: Error | undefined;
    void spawnError.then((err) => (failure = err));
    for (;;) {
      if (failure) throw new Error(`cannot run redis-server: ${failure.message}`);
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited: ${output.trim()}`);
      const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect(); // the ready check waits while an append-only file is loading
        await probe.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer: ${output.trim()}`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        probe.disconnect();
      }
    }
  }
}
