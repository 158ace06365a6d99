// Redis must keep its jobs (AOF, noeviction): the check reads both settings, refuses in production with one line, warns elsewhere.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort, RedisServer, type RedisServerOptions } from '../../scripts/redis-server.js';
import { createProducerConnection } from '../../shared/platform/redis.js';
import { checkRedisDurability, redisDurabilityProblems } from '../../shared/platform/redis-durability.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { captureLogs } from '../helpers/logs.js';

describe('Redis durability check', function () {
  this.timeout(30_000);
  const opened = closedAfterEach();

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'antaeus-redis-'));
    opened({ close: () => rm(dir, { recursive: true, force: true }) });
    return dir;
  }

  async function server(options: RedisServerOptions = {}): Promise<RedisServer> {
    const redis = await RedisServer.start(options);
    opened({ close: () => redis.stop() });
    return redis;
  }

  /** A process's producer connection, used at once, before it is ready, as main.ts does. */
  function connect(url: string) {
    const redis = createProducerConnection(url);
    redis.on('error', () => undefined);
    opened({ close: () => redis.disconnect() });
    return redis;
  }

  /** Redis as too many run it: no AOF, evicting the least recently used keys when full. */
  async function forgetful(args: string[] = []): Promise<RedisServer> {
    return server({ args: ['--maxmemory-policy', 'allkeys-lru', ...args] });
  }

  it('finds nothing wrong with AOF and noeviction', async () => {
    const redis = await server({ dir: await tempDir(), persistence: 'aof' });
    const connection = connect(redis.url);
    const { log, lines } = captureLogs();
    const verdict = await checkRedisDurability({ redis: connection, production: true, log, processName: 'worker', writeLine: () => expect.fail('no line') });
    expect(verdict).to.deep.include({ outcome: 'ok', problems: [] });
    expect(await redisDurabilityProblems(connection)).to.deep.equal([]);
    expect(lines.filter((l) => l.level >= 40)).to.deep.equal([]);
  });

  it('names appendonly on a Redis without AOF, and maxmemory-policy on one that evicts', async () => {
    const plain = connect((await server()).url);
    await checkRedisDurability({ redis: plain, production: false, log: captureLogs().log, processName: 'web' });
    expect(await redisDurabilityProblems(plain)).to.deep.equal(['appendonly is no: a restart of Redis loses every job, set appendonly yes']);

    const evicting = connect((await forgetful()).url);
    await checkRedisDurability({ redis: evicting, production: false, log: captureLogs().log, processName: 'web' });
    expect(await redisDurabilityProblems(evicting)).to.deep.equal([
      'appendonly is no: a restart of Redis loses every job, set appendonly yes',
      'maxmemory-policy is allkeys-lru: a full Redis evicts job keys, set noeviction',
    ]);
  });

  it('refuses in production with one line naming each setting and its fix', async () => {
    const redis = await forgetful();
    const written: string[] = [];
    const { log } = captureLogs();
    const verdict = await checkRedisDurability({ redis: connect(redis.url), production: true, log, processName: 'worker', writeLine: (l) => written.push(l) });
    expect(verdict.outcome).to.equal('refused');
    expect(written).to.have.length(1);
    expect(written[0]).to.equal(verdict.line);
    expect(written[0]).to.not.include('\n');
    expect(written[0]).to.match(new RegExp(`^Redis at 127\\.0\\.0\\.1:${redis.port} would lose jobs: `));
    expect(written[0]).to.include('appendonly is no').and.include('set appendonly yes');
    expect(written[0]).to.include('maxmemory-policy is allkeys-lru').and.include('set noeviction');
    expect(written[0]).to.match(/The worker process refuses to start in production\.$/);
  });

  it('only warns outside production, and the process goes on', async () => {
    const redis = await forgetful();
    const { log, lines } = captureLogs();
    const verdict = await checkRedisDurability({ redis: connect(redis.url), production: false, log, processName: 'web', writeLine: () => expect.fail('no line') });
    expect(verdict.outcome).to.equal('warned');
    expect(verdict.problems).to.have.length(2);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.msg).to.include('appendonly is no').and.include('maxmemory-policy is allkeys-lru').and.include('refused in production');
  });

  it('reads INFO where CONFIG is refused, as on a managed Redis', async () => {
    const redis = await forgetful(['--rename-command', 'CONFIG', '']);
    const connection = connect(redis.url);
    const verdict = await checkRedisDurability({ redis: connection, production: true, log: captureLogs().log, processName: 'web', writeLine: () => undefined });
    expect(verdict.outcome).to.equal('refused');
    expect(verdict.problems.map((p) => p.split(':')[0])).to.deep.equal(['appendonly is no', 'maxmemory-policy is allkeys-lru']);

    const aof = await server({ dir: await tempDir(), persistence: 'aof', args: ['--rename-command', 'CONFIG', ''] });
    expect(await redisDurabilityProblems(connect(aof.url))).to.deep.equal([]);
  });

  it('warns, and does not refuse, when neither CONFIG nor INFO answers', async () => {
    // A user whose ACL denies both (a Redis with INFO renamed away cannot be used by ioredis at all: its ready check needs it).
    const redis = await forgetful(['--user', 'limited', 'on', 'nopass', '~*', '&*', '+@all', '-config', '-info']);
    const { log, lines } = captureLogs();
    const warn = console.warn; // ioredis says, on the console, that it skips its ready check
    console.warn = () => undefined;
    opened({ close: () => (console.warn = warn) });
    const verdict = await checkRedisDurability({ redis: connect(`redis://limited:any@127.0.0.1:${redis.port}`), production: true, log, processName: 'web', writeLine: () => expect.fail('no line') });
    expect(verdict.outcome).to.equal('unchecked');
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).to.deep.equal([
      `could not read appendonly and maxmemory-policy from Redis at 127.0.0.1:${redis.port} (CONFIG GET and INFO refused): make sure it runs with appendonly yes and maxmemory-policy noeviction`,
    ]);
  });

  it('skips with a warning, within its deadline, when Redis does not answer', async () => {
    const port = await freePort();
    const { log, lines } = captureLogs();
    const started = Date.now();
    const verdict = await checkRedisDurability({ redis: connect(`redis://127.0.0.1:${port}`), production: true, log, processName: 'web', timeoutMs: 500, writeLine: () => expect.fail('no line') });
    expect(Date.now() - started).to.be.within(450, 3000);
    expect(verdict.outcome).to.equal('unchecked');
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).to.deep.equal([
      `Redis at 127.0.0.1:${port} did not answer within 500 ms: its appendonly and maxmemory-policy settings were not checked`,
    ]);
  });

  it('waits for a Redis that comes up after the process started', async () => {
    const port = await freePort();
    const connection = connect(`redis://127.0.0.1:${port}`);
    const verdict = checkRedisDurability({ redis: connection, production: true, log: captureLogs().log, processName: 'web', timeoutMs: 10_000, writeLine: () => undefined });
    await server({ port });
    expect((await verdict).outcome).to.equal('refused');
  });

  describe('the web and worker processes', () => {
    const production = (redisUrl: string, databaseUrl: string) => ({
      ...process.env,
      NODE_ENV: 'production',
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      METRICS_PORT: '0',
      ADMIN_PASSWORD: 'a-production-password',
      SMTP_URL: 'smtp://127.0.0.1:1',
      PAYMENT_PROVIDER_URL: 'http://127.0.0.1:1',
      FULFILMENT_URL: 'http://127.0.0.1:1',
      GAS_PROVIDER_URL: 'http://127.0.0.1:1/gas',
      INTERNET_PROVIDER_URL: 'http://127.0.0.1:1/internet',
      SELLER_NAME: 'Antaeus S.r.l.',
      SELLER_VAT_NUMBER: 'IT01234567897',
      SELLER_STREET: 'Via dei Giganti 1',
      SELLER_POSTAL_CODE: '20121',
      SELLER_CITY: 'Milano',
      QUEUE_PREFIX: `durability-${process.pid}-${Date.now()}`,
      LOG_LEVEL: 'warn',
    });

    for (const [name, entry] of [['web', 'api/main.ts'], ['worker', 'workers/main.ts']] as const) {
      it(`${name}: refuses to start in production against a Redis that would lose jobs, with one line on stderr, exit 1`, async () => {
        const redis = await forgetful();
        const dir = await tempDir();
        const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: production(redis.url, join(dir, 'db.sqlite')), stdio: ['ignore', 'pipe', 'pipe'] });
        opened({ close: () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')) });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
        expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).to.equal(1);
        const lines = stderr.split('\n').filter(Boolean);
        expect(lines, stderr).to.have.length(1);
        expect(lines[0]).to.include('appendonly is no').and.include('maxmemory-policy is allkeys-lru');
        expect(lines[0]).to.include(`The ${name} process refuses to start in production.`);
      });
    }
  });
});
