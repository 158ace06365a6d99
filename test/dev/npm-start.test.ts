// `npm start` as a user runs it stops on SIGTERM with everything it started; its private Redis keeps what it was given and dies with it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createTransport } from 'nodemailer';
import { RedisServer } from '../../scripts/redis-server.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { Receiver } from '../helpers/receiver.js';
import { sharedRedisUrl } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every process below `pid`, children first, then theirs. */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter(Boolean);
  } catch {
    return []; // ps exits 1 when there are none
  }
  return [...children, ...children.flatMap(descendants)];
}

/** Whether `pid` still runs; a zombie (exited, not yet reaped: PID 1 here may never reap) does not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function command(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '?';
  }
}

async function gone(pids: number[], timeoutMs = 10_000): Promise<void> {
  await waitFor(() => pids.every((pid) => !alive(pid)), {
    timeoutMs,
    intervalMs: 50,
    what: `every process to be gone, still running: ${pids.filter(alive).map((pid) => `${pid} (${command(pid)})`).join(', ')}`,
  });
}

async function tempDir(opened: ReturnType<typeof closedAfterEach>, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  opened({ close: () => rm(dir, { recursive: true, force: true }) });
  return dir;
}

/** What a process wrote, line by line, and a way to wait for a line. */
function lines(child: ChildProcess): { all: string[]; seen(pattern: RegExp, timeoutMs: number): Promise<string> } {
  const all: string[] = [];
  for (const stream of [child.stdout, child.stderr]) if (stream) createInterface({ input: stream }).on('line', (line) => all.push(line));
  return {
    all,
    seen: (pattern, timeoutMs) =>
      waitFor(() => (child.exitCode !== null ? Promise.reject(new Error(`exited ${child.exitCode}:\n${all.join('\n')}`)) : all.find((l) => pattern.test(l))), {
        timeoutMs,
        intervalMs: 50,
        what: `a line matching ${pattern}`,
      }),
  };
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });

describe('npm start', function () {
  this.timeout(120_000);
  const opened = closedAfterEach();

  /** `npm start` in the project folder, on a free port, the test's Redis and temporary files; killed with its tree after the test. */
  async function npmStart({ ownGroup = false } = {}) {
    const dir = await tempDir(opened, 'antaeus-start-');
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: ownGroup, // a process group of its own, as a terminal's foreground job is
      env: {
        ...process.env,
        NODE_ENV: 'development',
        PORT: '0',
        REDIS_URL: sharedRedisUrl(),
        QUEUE_PREFIX: `npm-start-${process.pid}-${Date.now()}`,
        DATABASE_URL: join(dir, 'antaeus.sqlite'),
        REPORTS_DIR: join(dir, 'reports'),
        SDI_INBOX_DIR: join(dir, 'sdi-inbox'),
        // Given both, npm start keeps no secrets in ./data.
        DEMO_API_KEY: 'ak_demo_npm_start_test_0123456789',
        ADMIN_PASSWORD: 'npm-start-test',
        SMTP_URL: '',
        PAYMENT_PROVIDER_URL: '',
        SHUTDOWN_GRACE_MS: '10000',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tree = new Set<number>([npm.pid!]);
    opened({
      close: async () => {
        for (const pid of [...tree, ...descendants(npm.pid!)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
        await exited(npm);
      },
    });
    const output = lines(npm);
    await output.seen(/^Antaeus is running\.$/, 60_000);
    const health = (await output.seen(/health: http:\/\/localhost:\d+\/healthz/, 1000)).match(/health: (\S+)\)/)![1]!;
    await waitFor(async () => (await fetch(health)).status === 200, { what: `${health} to answer 200` });
    for (const pid of descendants(npm.pid!)) tree.add(pid);
    return { npm, output, tree: [...tree] };
  }

  it('stops on SIGTERM to npm, gracefully, and leaves no process behind', async () => {
    const { npm, output, tree } = await npmStart();
    // npm's child is node running start.ts itself: no shell and no tsx CLI between them to swallow the signal.
    const [node] = descendants(npm.pid!);
    expect(command(node!)).to.match(/^node --import tsx scripts\/start\.ts$/);

    process.kill(npm.pid!, 'SIGTERM');
    const { code, signal } = await Promise.race([
      exited(npm),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`npm start did not exit within 30 s:\n${output.all.slice(-20).join('\n')}`)), 30_000)),
    ]);
    expect({ code, signal }, output.all.slice(-20).join('\n')).to.deep.equal({ code: 0, signal: null });
    expect(output.all.some((l) => l.includes('SIGTERM: shutting down'))).to.equal(true);
    await gone(tree);
  });

  it('stops on Ctrl-C (SIGINT to the whole group, and again from npm), gracefully, and leaves no process behind', async () => {
    const { npm, output, tree } = await npmStart({ ownGroup: true });
    process.kill(-npm.pid!, 'SIGINT');
    expect(await exited(npm), output.all.slice(-20).join('\n')).to.deep.equal({ code: 0, signal: null });
    expect(output.all.some((l) => l.includes('SIGINT: shutting down'))).to.equal(true);
    await gone(tree);
  });

  it('without a Redis, runs a private one with AOF in ./data/redis and stops it gracefully on Ctrl-C (in a network namespace, where 6379 is free)', async function () {
    try {
      execFileSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
    } catch {
      this.skip(); // needs unshare and ip, as root: a namespace of its own is the only way to be sure no Redis answers at 6379
    }
    const cwd = await tempDir(opened, 'antaeus-private-redis-');
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const start = join(ROOT, 'scripts', 'start.ts');
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development', PORT: '0', LOG_LEVEL: 'info', QUEUE_PREFIX: 'antaeus' };
    for (const name of ['REDIS_URL', 'DATABASE_URL', 'REPORTS_DIR', 'SDI_INBOX_DIR', 'SMTP_URL', 'PAYMENT_PROVIDER_URL', 'DEMO_API_KEY', 'ADMIN_PASSWORD']) delete env[name];
    // The same script as `npm start`, from a folder of its own so that its ./data is the test's.
    const child = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec node --import ${tsx} ${start}`], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    opened({
      close: async () => {
        for (const pid of [child.pid!, ...descendants(child.pid!)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
        await exited(child);
      },
    });
    const output = lines(child);
    await output.seen(/^No Redis at redis:\/\/127\.0\.0\.1:6379: started a private redis-server at redis:\/\/127\.0\.0\.1:\d+, its data in /, 60_000);
    await output.seen(/^Antaeus is running\.$/, 60_000);
    const tree = descendants(child.pid!);
    expect(tree.map(command).filter((c) => c.startsWith('redis-server'))).to.have.length(1);
    expect(statSync(join(cwd, 'data', 'redis', 'appendonlydir')).isDirectory()).to.equal(true);
    expect(output.all.filter((l) => l.includes('would lose jobs'))).to.deep.equal([]);

    process.kill(-child.pid!, 'SIGINT');
    expect(await exited(child), output.all.slice(-20).join('\n')).to.deep.equal({ code: 0, signal: null });
    await gone(tree);
  });

  it('stops by itself when npm is killed outright (SIGKILL, which npm cannot pass on)', async () => {
    const { npm, output, tree } = await npmStart();
    process.kill(npm.pid!, 'SIGKILL');
    await exited(npm);
    await gone(tree, 20_000);
    expect(output.all.some((l) => l.includes('SIGTERM: shutting down'))).to.equal(true);
  });
});

describe('npm run sandbox:sdi', function () {
  this.timeout(60_000);
  const opened = closedAfterEach();

  function sandbox(env: Record<string, string>) {
    const npm = spawn('npm', ['run', 'sandbox:sdi'], {
      cwd: ROOT,
      env: { ...process.env, SDI_API_KEY: '', DEMO_API_KEY: '', SDI_API_URL: '', SMTP_PORT: '0', SDI_SIMULATOR_DELAY_MS: '10', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    opened({
      close: async () => {
        for (const pid of [npm.pid!, ...descendants(npm.pid!)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
        await exited(npm);
      },
    });
    return { npm, output: lines(npm) };
  }

  it('runs the SdI simulator alone: mail in, the receipt posted to SDI_API_URL with the key; SIGTERM stops it', async () => {
    const api = opened(await Receiver.start(() => ({ status: 202 })));
    const inbox = await tempDir(opened, 'antaeus-inbox-');
    const { npm, output } = sandbox({ SDI_API_URL: `http://127.0.0.1:${api.port}`, SDI_API_KEY: 'ak_sandbox_test_0123456789', SDI_INBOX_DIR: inbox });
    const smtpUrl = (await output.seen(/^SdI simulator at smtp:\/\/127\.0\.0\.1:\d+ /, 30_000)).split(' ')[3]!;
    const tree = [npm.pid!, ...descendants(npm.pid!)];

    const transport = createTransport({ url: smtpUrl });
    await transport.sendMail({ from: 'fatture@antaeus.example', to: 'sdi01@pec.fatturapa.it', subject: 'x', attachments: [{ filename: 'IT01234567897_00001.xml', content: '<not-an-invoice/>' }] });
    transport.close();
    const [receipt] = await api.waitForRequests(1, 20_000);
    expect(receipt!.path).to.equal('/v1/sdi/notifications');
    expect(receipt!.headers.authorization).to.equal('Bearer ak_sandbox_test_0123456789');
    expect(receipt!.body).to.include('NotificaScarto');

    process.kill(npm.pid!, 'SIGTERM');
    expect(await exited(npm)).to.deep.equal({ code: 0, signal: null });
    await gone(tree);
  });

  it('says in one line what is missing without an API key', async () => {
    const { npm, output } = sandbox({});
    expect((await exited(npm)).code).to.not.equal(0);
    expect(output.all.filter((l) => l.startsWith('SdI simulator:'))).to.deep.equal([
      "SdI simulator: SDI_API_KEY (or DEMO_API_KEY) is not set: the simulator posts receipts with an operator's API key (npm run seed makes one with DEMO_API_KEY)",
    ]);
  });
});

describe('RedisServer', function () {
  this.timeout(30_000);
  const opened = closedAfterEach();

  function connect(url: string): Redis {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    opened({ close: () => redis.disconnect() });
    return redis;
  }

  it('with AOF comes back from SIGKILL with every acknowledged write', async () => {
    const dir = await tempDir(opened, 'antaeus-aof-');
    const server = await RedisServer.start({ dir, persistence: 'aof' });
    opened({ close: () => server.stop() });
    const before = connect(server.url);
    expect(await before.config('GET', 'appendonly', 'appendfsync', 'maxmemory-policy')).to.have.members(['appendonly', 'yes', 'appendfsync', 'always', 'maxmemory-policy', 'noeviction']);
    for (let i = 0; i < 100; i++) await before.set(`key-${i}`, `value-${i}`);
    await before.rpush('a-list', 'first', 'last');

    await server.stop(); // SIGKILL: nothing flushed at the end
    await server.start();
    const after = connect(server.url);
    expect(await after.get('key-0')).to.equal('value-0');
    expect(await after.get('key-99')).to.equal('value-99');
    expect(await after.lrange('a-list', 0, -1)).to.deep.equal(['first', 'last']);
    expect(statSync(join(dir, 'appendonlydir')).isDirectory()).to.equal(true);
  });

  it('shuts down gracefully on shutdown(), and comes back with its data', async () => {
    const dir = await tempDir(opened, 'antaeus-aof-');
    const server = await RedisServer.start({ dir, persistence: 'aof' });
    opened({ close: () => server.stop() });
    await connect(server.url).set('kept', 'yes');
    const pid = server.pid!;
    await server.shutdown();
    expect(server.running).to.equal(false);
    await gone([pid]);
    await server.start();
    expect(await connect(server.url).get('kept')).to.equal('yes');
  });

  it('without persistence keeps nothing, but still never evicts', async () => {
    const server = await RedisServer.start();
    opened({ close: () => server.stop() });
    expect(await connect(server.url).config('GET', 'appendonly', 'maxmemory-policy')).to.have.members(['appendonly', 'no', 'maxmemory-policy', 'noeviction']);
  });

  it('runs in a process group of its own: a Ctrl-C reaches its owner, which stops it last', async () => {
    const server = await RedisServer.start();
    opened({ close: () => server.stop() });
    const group = (pid: number | 'self') => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    };
    expect(group(server.pid!)).to.equal(server.pid);
    expect(group('self')).to.not.equal(server.pid);
  });

  it('refuses AOF without a dir', async () => {
    const failure = await RedisServer.start({ persistence: 'aof' }).then(() => undefined, (err: Error) => err);
    expect(failure?.message).to.include('needs a dir');
  });

  /** A node process that starts a RedisServer, prints its pid, then does what `then` says. */
  async function parentOfRedis(then: string): Promise<{ parent: ChildProcess; redisPid: number }> {
    const module = new URL('../../scripts/redis-server.ts', import.meta.url).href;
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `import { RedisServer } from '${module}'; const s = await RedisServer.start(); console.log(s.pid); ${then}`],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    opened({ close: () => void (alive(parent.pid!) && parent.kill('SIGKILL')) });
    const output = lines(parent);
    const redisPid = Number(await waitFor(() => output.all.find((l) => /^\d+$/.test(l)), { timeoutMs: 20_000, what: 'the redis-server pid' }));
    opened({ close: () => void (alive(redisPid) && process.kill(redisPid, 'SIGKILL')) });
    expect(alive(redisPid)).to.equal(true);
    return { parent, redisPid };
  }

  it('stops with the process that started it when that one exits', async () => {
    const { parent, redisPid } = await parentOfRedis('process.exit(0);');
    await exited(parent);
    await gone([redisPid]);
  });

  it('stops with the process that started it even when that one is SIGKILLed (Linux: setpriv --pdeathsig)', async function () {
    try {
      execFileSync('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'true'], { stdio: 'ignore' });
    } catch {
      this.skip(); // without setpriv (macOS) a SIGKILLed parent leaves its redis-server running
    }
    const { parent, redisPid } = await parentOfRedis('setInterval(() => undefined, 1000);');
    parent.kill('SIGKILL');
    await exited(parent);
    await gone([redisPid]);
  });
});
