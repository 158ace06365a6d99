// Reads and validates the environment once; every other module receives the resulting Config.
import { z } from 'zod';
import { QUEUE_NAMES, isQueueName, type QueueName } from '../queues/jobs.js';
import { parseAllowlist } from './ssrf.js';

/** Thrown for a bad environment; its message is one line naming every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface Config {
  /** `development`, `test` or `production`; production refuses development-only defaults. @defaultValue `development` */
  nodeEnv: 'development' | 'test' | 'production';
  /** HTTP port of the `web` process (`PORT`). @defaultValue `3000` */
  port: number;
  /** Redis holding the queues (`REDIS_URL`). @defaultValue `redis://127.0.0.1:6379` */
  redisUrl: string;
  /** `postgres://…` or a SQLite file path (`DATABASE_URL`). @defaultValue `./data/antaeus.sqlite` */
  databaseUrl: string;
  /** BullMQ key prefix (`QUEUE_PREFIX`); wrap it in `{…}` for Redis Cluster. @defaultValue `antaeus` */
  queuePrefix: string;
  /** Queues this `worker` process serves (`WORKER_QUEUES`, comma-separated). @defaultValue every queue */
  workerQueues: QueueName[];
  /** Jobs processed in parallel per queue by one worker process (`WORKER_CONCURRENCY`: `10` or `callback=50,charge=20`). @defaultValue see queues/policy.ts */
  workerConcurrency: Partial<Record<QueueName, number>>;
  /** How long active jobs may run after SIGTERM before the worker gives them up (`SHUTDOWN_GRACE_MS`). @defaultValue `25000` */
  shutdownGraceMs: number;
  /** Base delay of the exponential retry backoff of every queue but `callback` (`RETRY_BASE_DELAY_MS`). @defaultValue `1000` */
  retryBaseDelayMs: number;
  /** How long the API remembers who an API key belongs to and its customers (`AUTH_CACHE_SECONDS`); revocations take effect within it, 0 disables. @defaultValue `10` */
  authCacheMs: number;
  /** pino log level (`LOG_LEVEL`). @defaultValue `info` */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** API key of the demo operator created by the development seed (`DEMO_API_KEY`). @defaultValue generated and printed */
  demoApiKey: string | undefined;
  /** Bull Board user (`ADMIN_USER`). @defaultValue `admin` */
  adminUser: string;
  /** Bull Board password (`ADMIN_PASSWORD`); required in production. @defaultValue development: generated and printed */
  adminPassword: string | undefined;
  /** Hosts or CIDRs exempt from the callback SSRF guard (`CALLBACK_ALLOWED_HOSTS`). @defaultValue development and test: `localhost,127.0.0.1`; production: none */
  callbackAllowedHosts: string[];
  /** Time allowed for one callback attempt, connection to last byte (`CALLBACK_TIMEOUT_MS`). @defaultValue `10000` */
  callbackTimeoutMs: number;
  /** Seconds to wait before each callback retry; one attempt more than entries (`CALLBACK_RETRY_SCHEDULE`). @defaultValue `5,300,1800,7200,18000,36000,36000` */
  callbackRetrySchedule: number[];
  /** SMTP server for SdI mail (`SMTP_URL`). @defaultValue development: the SdI simulator */
  smtpUrl: string | undefined;
  /** Where invoices are mailed (`SDI_ADDRESS`). @defaultValue `sdi01@pec.fatturapa.it` */
  sdiAddress: string;
  /** Payment provider base URL (`PAYMENT_PROVIDER_URL`). @defaultValue development: the sandbox */
  paymentProviderUrl: string | undefined;
  /** Cron pattern of the monthly billing run (`BILLING_CRON`). @defaultValue `0 0 1 * *` */
  billingCron: string;
  /** IANA time zone of `BILLING_CRON` (`BILLING_TZ`). @defaultValue `UTC` */
  billingTz: string;
  /** Days between retries after an insufficient balance (`DUNNING_DAYS`). @defaultValue `1,3,7` */
  dunningDays: number[];
  /** Folder of the CSV reports (`REPORTS_DIR`). @defaultValue `./data/reports` */
  reportsDir: string;
  /** Minutes between scheduled reports (`REPORTS_EVERY_MINUTES`). @defaultValue `60` */
  reportsEveryMinutes: number;
  /** Gas data provider base URL (`GAS_PROVIDER_URL`). @defaultValue development: the sandbox */
  gasProviderUrl: string | undefined;
  /** Internet data provider base URL (`INTERNET_PROVIDER_URL`). @defaultValue development: the sandbox */
  internetProviderUrl: string | undefined;
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `expected a number from ${min} to ${max}`);

const list = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
);

const positiveNumbers = list.refine(
  (parts) => parts.length > 0 && parts.every((p) => /^\d+(\.\d+)?$/.test(p)),
  'expected comma-separated non-negative numbers',
).transform((parts) => parts.map(Number));

const queueList = list.refine(
  (parts) => parts.length > 0 && parts.every((p) => p === 'all' || isQueueName(p)),
  `expected comma-separated queue names from: ${QUEUE_NAMES.join(', ')}`,
).transform((parts): QueueName[] => (parts.includes('all') ? [...QUEUE_NAMES] : (parts as QueueName[])));

const concurrency = z.string().transform((s, ctx) => {
  const result: Partial<Record<QueueName, number>> = {};
  if (/^\d+$/.test(s.trim())) {
    for (const q of QUEUE_NAMES) result[q] = Number(s);
    return result;
  }
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, value] = part.split('=');
    if (!name || !isQueueName(name) || !value || !/^\d+$/.test(value) || Number(value) < 1) {
      ctx.addIssue({ code: 'custom', message: `expected a number or queue=number pairs, got "${part}"` });
      return z.NEVER;
    }
    result[name] = Number(value);
  }
  return result;
});

const url = (protocols: RegExp, hint: string) =>
  z.string().refine((s) => {
    try {
      return protocols.test(new URL(s).protocol);
    } catch {
      return false;
    }
  }, hint);

const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone such as Europe/Rome');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: integer(0, 65535).default(3000),
  REDIS_URL: url(/^rediss?:$/, 'expected redis://host:port or rediss://…').default('redis://127.0.0.1:6379'),
  DATABASE_URL: z.string().min(1).default('./data/antaeus.sqlite'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_{}.-]+$/, 'expected letters, digits, _ . - { }').default('antaeus'),
  WORKER_QUEUES: queueList.default([...QUEUE_NAMES]),
  WORKER_CONCURRENCY: concurrency.default({}),
  SHUTDOWN_GRACE_MS: integer(0, 3_600_000).default(25_000),
  RETRY_BASE_DELAY_MS: integer(1, 3_600_000).default(1000),
  AUTH_CACHE_SECONDS: integer(0, 3600).default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DEMO_API_KEY: z.string().min(16, 'expected at least 16 characters').optional(),
  ADMIN_USER: z.string().min(1).default('admin'),
  ADMIN_PASSWORD: z.string().min(8, 'expected at least 8 characters').optional(),
  CALLBACK_ALLOWED_HOSTS: list
    .refine((entries) => {
      try {
        parseAllowlist(entries);
        return true;
      } catch {
        return false;
      }
    }, 'expected host names, IP addresses or CIDR ranges such as 10.0.0.0/8')
    .optional(),
  CALLBACK_TIMEOUT_MS: integer(1, 120_000).default(10_000),
  CALLBACK_RETRY_SCHEDULE: positiveNumbers.default([5, 300, 1800, 7200, 18000, 36000, 36000]),
  SMTP_URL: url(/^smtps?:$/, 'expected smtp://user:pass@host:port or smtps://…').optional(),
  SDI_ADDRESS: z.email().default('sdi01@pec.fatturapa.it'),
  PAYMENT_PROVIDER_URL: url(/^https?:$/, 'expected an http(s) URL').optional(),
  BILLING_CRON: z.string().min(9).default('0 0 1 * *'),
  BILLING_TZ: timeZone.default('UTC'),
  DUNNING_DAYS: positiveNumbers.default([1, 3, 7]),
  REPORTS_DIR: z.string().min(1).default('./data/reports'),
  REPORTS_EVERY_MINUTES: integer(1, 525_600).default(60),
  GAS_PROVIDER_URL: url(/^https?:$/, 'expected an http(s) URL').optional(),
  INTERNET_PROVIDER_URL: url(/^https?:$/, 'expected an http(s) URL').optional(),
});

/** Parses an environment into a Config; throws ConfigError listing every bad variable on one line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", as in most .env tooling.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0]);
      return `${name}=${JSON.stringify(present[name] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.ADMIN_PASSWORD) {
    throw new ConfigError('Invalid configuration: ADMIN_PASSWORD is required when NODE_ENV=production');
  }
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    queuePrefix: e.QUEUE_PREFIX,
    workerQueues: e.WORKER_QUEUES,
    workerConcurrency: e.WORKER_CONCURRENCY,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    retryBaseDelayMs: e.RETRY_BASE_DELAY_MS,
    authCacheMs: e.AUTH_CACHE_SECONDS * 1000,
    logLevel: e.LOG_LEVEL,
    demoApiKey: e.DEMO_API_KEY,
    adminUser: e.ADMIN_USER,
    adminPassword: e.ADMIN_PASSWORD,
    callbackAllowedHosts:
      e.CALLBACK_ALLOWED_HOSTS ?? (e.NODE_ENV === 'production' ? [] : ['localhost', '127.0.0.1']),
    callbackTimeoutMs: e.CALLBACK_TIMEOUT_MS,
    callbackRetrySchedule: e.CALLBACK_RETRY_SCHEDULE,
    smtpUrl: e.SMTP_URL,
    sdiAddress: e.SDI_ADDRESS,
    paymentProviderUrl: e.PAYMENT_PROVIDER_URL,
    billingCron: e.BILLING_CRON,
    billingTz: e.BILLING_TZ,
    dunningDays: e.DUNNING_DAYS,
    reportsDir: e.REPORTS_DIR,
    reportsEveryMinutes: e.REPORTS_EVERY_MINUTES,
    gasProviderUrl: e.GAS_PROVIDER_URL,
    internetProviderUrl: e.INTERNET_PROVIDER_URL,
  };
}

/** Loads `.env` from the working directory when present; variables already set win. */
export function loadDotEnv(path = '.env'): void {
  try {
    process.loadEnvFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Every environment variable the configuration reads. */
export const ENV_NAMES = Object.keys(envSchema.shape);
