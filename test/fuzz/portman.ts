// `npm run fuzz`: portman's contract tests and fuzzed variations, generated from /openapi.json, against a seeded app; fails on any 5xx or broken contract.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, RedisServer } from '../../scripts/redis-server.js';
import { createTestSystem } from '../helpers/system.js';
import { summarise, type RunSummary } from './newman-summary.js';
import { seed, type Seeded } from './seed.js';
import { listenRecordingErrors, type ServerError } from './server-errors.js';

const CONFIG_FILE = fileURLToPath(new URL('./portman-config.json', import.meta.url));
const PORTMAN_BIN = join(dirname(createRequire(import.meta.url).resolve('@apideck/portman/package.json')), 'bin', 'portman');

/**
 * How long portman (converting the document, then newman running every request) may take before it is killed.
 * @defaultValue 5 minutes; `FUZZ_TIMEOUT_MS` overrides it
 */
const PORTMAN_TIMEOUT_MS = Number(process.env.FUZZ_TIMEOUT_MS ?? 300_000);

/** `FUZZ_DATABASE_URL`, else `TEST_DATABASE_URL`, when it is PostgreSQL: the run gets its own schema there; otherwise a temporary SQLite file. */
function chooseDatabase(): string | undefined {
  const url = process.env.FUZZ_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  return url && /^postgres(ql)?:\/\//.test(url) ? url : undefined;
}

/** `spareKeyId` → `PORTMAN_SPARE_KEY_ID`, which portman hands to the collection as `{{spareKeyId}}`. */
function portmanVariables(seeded: Seeded): Record<string, string> {
  return Object.fromEntries(Object.entries(seeded).map(([name, value]) => [`PORTMAN_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`, value]));
}

/** Runs the portman CLI in `workDir` (it writes its own `./tmp` there); its output goes to `portman.log`. */
async function runPortman(workDir: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; log: string }> {
  const logFile = join(workDir, 'portman.log');
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [PORTMAN_BIN, ...args], {
    cwd: workDir,
    env: { ...process.env, ...env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: PORTMAN_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  await new Promise((resolve) => log.end(resolve));
  return { code, log: await readFile(logFile, 'utf8') };
}

function report(summary: RunSummary, serverErrors: ServerError[], answered: number): void {
  console.log(`requests: ${summary.requests} (${summary.variations} of them variations), answered by the app: ${answered}`);
  console.log(`assertions: ${summary.assertions}, failed: ${summary.failures.length}`);
  console.log(`5xx answers: ${serverErrors.length}`);
  for (const failure of summary.failures) console.log(`  FAILED ${failure}`);
  for (const e of serverErrors) console.log(`  5xx ${e.status} ${e.method} ${e.url} (request ${e.requestId}): ${e.requestBody.slice(0, 500) || '(no body read)'}`);
  // The same 5xx as newman saw them, by request name: the way to find the request in the collection.
  for (const name of summary.serverErrors) console.log(`  5xx in the collection: ${name}`);
}

async function main(): Promise<number> {
  const databaseUrl = chooseDatabase();
  // createTestDb (test/helpers/db.ts) makes a schema of its own in TEST_DATABASE_URL, or a SQLite file without it.
  if (databaseUrl) process.env.TEST_DATABASE_URL = databaseUrl;
  else delete process.env.TEST_DATABASE_URL;
  console.log(`fuzzing on ${databaseUrl ? 'PostgreSQL' : 'SQLite'}`);

  const closers: (() => Promise<unknown>)[] = [];
  try {
    const redis = await RedisServer.start();
    closers.push(() => redis.stop());
    const smtpPort = await freePort();
    const system = await createTestSystem(
      {
        // Errors only: a 5xx is logged with its stack and request id, which the recorder prints too.
        LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'error',
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        SMTP_TIMEOUT_MS: '2000',
        // Fuzzing sends hundreds of requests a second with one key: no limit must turn them into 429s.
        RATE_LIMIT_PER_SECOND: '1000000',
        RATE_LIMIT_BURST: '1000000',
        // Callback URLs in the requests point at this machine; the SSRF guard lets them through.
        CALLBACK_ALLOWED_HOSTS: 'localhost,127.0.0.1',
      },
      { redisUrl: redis.url },
    );
    closers.push(() => system.close());
    const server = await listenRecordingErrors(system.app);
    closers.push(() => server.close());

    const seeded = await seed(system, server.url, smtpPort);
    const workDir = await mkdtemp(join(tmpdir(), 'antaeus-fuzz-'));
    // FUZZ_KEEP keeps the document, the collection, newman's report and portman's log, to see what was sent.
    if (process.env.FUZZ_KEEP) console.log(`work files kept in ${workDir}`);
    else closers.push(() => rm(workDir, { recursive: true, force: true }));
    const documentFile = join(workDir, 'openapi.json');
    const collectionFile = join(workDir, 'collection.json');
    const reportFile = join(workDir, 'newman-report.json');
    const document = await fetch(`${server.url}/openapi.json`);
    if (!document.ok) throw new Error(`GET /openapi.json answered ${document.status}`);
    await writeFile(documentFile, await document.text());

    const newmanOptions = { abortOnFailure: false, reporters: ['json'], reporter: { json: { export: reportFile } }, timeoutRequest: 10_000 };
    // prettier-ignore
    const args = [
      '--local', documentFile, '--baseUrl', server.url, '--portmanConfigFile', CONFIG_FILE, '--output', collectionFile,
      '--includeTests', '--runNewman', '--newmanRunOptions', JSON.stringify(newmanOptions), '--logAssignVariables', 'false',
    ];
    const portman = await runPortman(workDir, args, portmanVariables(seeded));
    if (portman.code !== 0) {
      console.error(portman.log.split('\n').slice(-60).join('\n'));
      throw new Error(portman.code === null ? `portman was stopped after FUZZ_TIMEOUT_MS (${PORTMAN_TIMEOUT_MS} ms)` : `portman exited with ${portman.code}`);
    }
    if (process.env.FUZZ_VERBOSE) console.log(portman.log);

    const summary = await summarise(collectionFile, reportFile);
    report(summary, server.errors, server.answered());
    // A 5xx fails the run whoever saw it; a request newman could not complete is among its failures.
    const failed = server.errors.length > 0 || summary.serverErrors.length > 0 || summary.failures.length > 0;
    console.log(failed ? 'fuzz: FAILED' : 'fuzz: passed');
    return failed ? 1 : 0;
  } finally {
    for (const close of closers.reverse()) await close().catch((err: unknown) => console.error('closing:', err));
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
