// Redis holds the queues: without an append-only file a restart loses every job, and a Redis that evicts keys drops
// jobs when its memory is full. BullMQ's production guide asks for both; `web` and `worker` check them at start.
import type { Redis } from 'ioredis';
import { waitForRedis } from './redis.js';

/** The two settings as Redis reports them; undefined where neither CONFIG GET nor INFO told. */
export interface RedisDurabilitySettings {
  /** `yes` or `no`. */
  appendonly?: string;
  /** `noeviction`, `allkeys-lru`, … */
  maxmemoryPolicy?: string;
}

const SETTINGS = { appendonly: 'appendonly', maxmemoryPolicy: 'maxmemory-policy' } as const;

async function configGet(redis: Redis, name: string): Promise<string | undefined> {
  const reply: unknown = await redis.call('CONFIG', 'GET', name);
  // RESP2 (and RESP3 in ioredis's legacy shape): [name, value]; a RESP3 map: { name: value }; [] for an unknown name.
  if (Array.isArray(reply)) {
    const at = reply.findIndex((item) => String(item) === name);
    return at >= 0 && at + 1 < reply.length ? String(reply[at + 1]) : undefined;
  }
  if (reply && typeof reply === 'object' && name in reply) return String((reply as Record<string, unknown>)[name]);
  return undefined;
}

async function infoField(redis: Redis, section: string, field: string): Promise<string | undefined> {
  const text = await redis.info(section);
  const line = text.split(/\r?\n/).find((l) => l.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim();
}

/**
 * Reads `appendonly` and `maxmemory-policy` with CONFIG GET; where CONFIG is refused (a managed Redis that
 * renames or forbids it) from INFO's `aof_enabled` and `maxmemory_policy`. The connection must be ready.
 */
export async function readRedisDurability(redis: Redis): Promise<RedisDurabilitySettings> {
  const settings: RedisDurabilitySettings = {};
  for (const key of Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]) {
    settings[key] = await configGet(redis, SETTINGS[key]).catch(() => undefined);
  }
  if (settings.appendonly === undefined) {
    const aof = await infoField(redis, 'persistence', 'aof_enabled').catch(() => undefined);
    if (aof === '1' || aof === '0') settings.appendonly = aof === '1' ? 'yes' : 'no';
  }
  settings.maxmemoryPolicy ??= await infoField(redis, 'memory', 'maxmemory_policy').catch(() => undefined);
  return settings;
}

/** What is wrong with these settings, one sentence each saying what to set; a setting not read is no problem here. */
export function durabilityProblems(settings: RedisDurabilitySettings): string[] {
  const problems: string[] = [];
  if (settings.appendonly !== undefined && settings.appendonly !== 'yes') {
    problems.push(`appendonly is ${settings.appendonly}: a restart of Redis loses every job, set appendonly yes`);
  }
  if (settings.maxmemoryPolicy !== undefined && settings.maxmemoryPolicy !== 'noeviction') {
    problems.push(`maxmemory-policy is ${settings.maxmemoryPolicy}: a full Redis evicts job keys, set noeviction`);
  }
  return problems;
}

/** The settings that make this Redis lose jobs (see durabilityProblems); the connection must be ready. */
export async function redisDurabilityProblems(redis: Redis): Promise<string[]> {
  return durabilityProblems(await readRedisDurability(redis));
}

export interface RedisDurabilityCheck {
  /** The process's producer connection (`wiring.ctx.queues.connection`). */
  redis: Redis;
  /** Refuse (rather than warn) when Redis would lose jobs: `config.nodeEnv === 'production'`. */
  production: boolean;
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  /** `web`, `worker`: named in the refusal. */
  processName: string;
  /** How long to wait for the connection to be ready before skipping the check. @defaultValue `5000` */
  timeoutMs?: number;
  /** Where the refusal goes, one line. @defaultValue stderr */
  writeLine?: (line: string) => void;
}

export interface RedisDurabilityVerdict {
  /**
   * `ok`: both settings hold. `warned`: they do not, outside production: logged, and the process goes on.
   * `unchecked`: Redis did not answer in time, or told neither CONFIG nor INFO: logged, and the process goes on.
   * `refused`: they do not, in production: the line is written, and the caller exits 1.
   */
  outcome: 'ok' | 'warned' | 'unchecked' | 'refused';
  problems: string[];
  /** The one line written on refusal. */
  line?: string;
}

function where(redis: Redis): string {
  const { path, host, port } = redis.options;
  return path ? path : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

/**
 * The start-up check of `web` and `worker`. Waits up to `timeoutMs` for the connection; a Redis that does not
 * answer is not a reason to refuse (the processes wait for Redis anyway): the check is skipped with a warning.
 */
export async function checkRedisDurability(options: RedisDurabilityCheck): Promise<RedisDurabilityVerdict> {
  const { redis, production, log, processName, timeoutMs = 5000 } = options;
  const writeLine = options.writeLine ?? ((line: string) => process.stderr.write(`${line}\n`));
  const at = where(redis);
  try {
    await waitForRedis(redis, timeoutMs);
  } catch {
    log.warn({ redis: at }, `Redis at ${at} did not answer within ${timeoutMs} ms: its appendonly and maxmemory-policy settings were not checked`);
    return { outcome: 'unchecked', problems: [] };
  }
  const settings = await readRedisDurability(redis);
  const problems = durabilityProblems(settings);
  if (problems.length && production) {
    const line = `Redis at ${at} would lose jobs: ${problems.join('; ')}. The ${processName} process refuses to start in production.`;
    writeLine(line);
    return { outcome: 'refused', problems, line };
  }
  if (problems.length) {
    log.warn({ redis: at, problems }, `Redis at ${at} would lose jobs: ${problems.join('; ')} (refused in production)`);
    return { outcome: 'warned', problems };
  }
  const unread = Object.entries(SETTINGS).filter(([key]) => settings[key as keyof RedisDurabilitySettings] === undefined).map(([, name]) => name);
  if (unread.length) {
    log.warn({ redis: at, unread }, `could not read ${unread.join(' and ')} from Redis at ${at} (CONFIG GET and INFO refused): make sure it runs with appendonly yes and maxmemory-policy noeviction`);
    return { outcome: 'unchecked', problems };
  }
  log.debug({ redis: at, ...settings }, 'Redis keeps its jobs: appendonly yes, maxmemory-policy noeviction');
  return { outcome: 'ok', problems };
}
