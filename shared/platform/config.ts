// Reads and validates the environment once; every other module receives the resulting Config.
import { z } from 'zod';
import { QUEUE_NAMES, isQueueName, type QueueName } from '../../queues/jobs.js';
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
  /** Attempts per job before it goes to the DLQ (`JOB_ATTEMPTS`: `5` or `sdi-send=20,charge=10`). @defaultValue see queues/policy.ts */
  jobAttempts: Partial<Record<QueueName, number>>;
  /** SMTP server for SdI mail (`SMTP_URL`); `smtps://` for implicit TLS, `?requireTLS=true` to insist on STARTTLS. Required in production. @defaultValue development: the SdI simulator */
  smtpUrl: string | undefined;
  /** Sender of SdI mail (`SMTP_FROM`); with a PEC channel, the PEC mailbox registered with the SdI. @defaultValue `fatture@antaeus.example` */
  smtpFrom: string;
  /** Time allowed for each SMTP step: connecting, greeting, every command (`SMTP_TIMEOUT_MS`). @defaultValue `30000` */
  smtpTimeoutMs: number;
  /** How long the SMTP circuit stays open after repeated failures before one trial send (`SMTP_BREAKER_RESET_MS`). @defaultValue `30000` */
  smtpBreakerResetMs: number;
  /** Where invoices are mailed (`SDI_ADDRESS`). @defaultValue `sdi01@pec.fatturapa.it` */
  sdiAddress: string;
  /** Who transmits to the SdI (`SDI_TRANSMITTER_ID`: country code and tax code); names every file. @defaultValue `SELLER_VAT_NUMBER` */
  sdiTransmitterId: { country: string; code: string };
  /** The seller on every internal invoice (`SELLER_*`): our company. Required in production. @defaultValue a demo company */
  seller: Seller;
  /** Where the development SdI simulator keeps every message it receives (`SDI_INBOX_DIR`). @defaultValue `./data/sdi-inbox` */
  sdiInboxDir: string;
  /** How long the development SdI simulator waits before answering (`SDI_SIMULATOR_DELAY_MS`). @defaultValue `1000` */
  sdiSimulatorDelayMs: number;
  /** Payment provider base URL (`PAYMENT_PROVIDER_URL`); required in production. @defaultValue development: the sandbox */
  paymentProviderUrl: string | undefined;
  /** Time allowed for one charge request to the payment provider (`PAYMENT_PROVIDER_TIMEOUT_MS`); a charge in flight holds its invoice for twice this. @defaultValue `10000` */
  paymentProviderTimeoutMs: number;
  /** How long a worker's lock on an active job lasts, renewed at half; a worker that dies loses its jobs to another after this (`JOB_LOCK_MS`). @defaultValue `30000` */
  jobLockMs: number;
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

/** Our company as the seller (`CedentePrestatore`) of every internal invoice. */
export interface Seller {
  /** `SELLER_NAME`: the registered name. */
  name: string;
  /** `SELLER_VAT_NUMBER`: country code and VAT number, e.g. IT01234567890. */
  vat: { country: string; code: string };
  /** `SELLER_FISCAL_CODE`: when it differs from the VAT number. */
  fiscalCode: string | undefined;
  /** `SELLER_REGIME_FISCALE`: the tax regime, RF01 (ordinary) to RF19. */
  regimeFiscale: string;
  /** `SELLER_STREET`, `SELLER_POSTAL_CODE`, `SELLER_CITY`, `SELLER_PROVINCE`, `SELLER_COUNTRY`. */
  address: { street: string; postalCode: string; city: string; province: string | undefined; country: string };
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

/** A number for every queue, or queue=number pairs. */
const perQueue = z.string().transform((s, ctx) => {
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

/** A tax id as FatturaPA writes it: country code, then the code (IdPaese + IdCodice). */
const taxId = z
  .string()
  .regex(/^[A-Z]{2}[A-Za-z0-9]{1,28}$/, 'expected a country code and a tax code, e.g. IT01234567890')
  .transform((s) => ({ country: s.slice(0, 2), code: s.slice(2) }));

const latin = (max: number) =>
  z.string().max(max).regex(/^[\x20-\x7e\xa0-\xff]+$/, 'expected Latin-1 text, as the SdI accepts');

const REGIMI_FISCALI = [
  'RF01', 'RF02', 'RF04', 'RF05', 'RF06', 'RF07', 'RF08', 'RF09', 'RF10',
  'RF11', 'RF12', 'RF13', 'RF14', 'RF15', 'RF16', 'RF17', 'RF18', 'RF19',
] as const;

/** A made-up Italian VAT number with a valid check digit, for development only. */
const DEMO_SELLER_VAT = '01234567897';

/** Set in production: the development defaults would put a made-up company on real invoices. */
const REQUIRED_IN_PRODUCTION = ['ADMIN_PASSWORD', 'SMTP_URL', 'PAYMENT_PROVIDER_URL', 'SELLER_NAME', 'SELLER_VAT_NUMBER', 'SELLER_STREET', 'SELLER_POSTAL_CODE', 'SELLER_CITY'] as const;

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: integer(0, 65535).default(3000),
  REDIS_URL: url(/^rediss?:$/, 'expected redis://host:port or rediss://…').default('redis://127.0.0.1:6379'),
  DATABASE_URL: z.string().min(1).default('./data/antaeus.sqlite'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_{}.-]+$/, 'expected letters, digits, _ . - { }').default('antaeus'),
  WORKER_QUEUES: queueList.default([...QUEUE_NAMES]),
  WORKER_CONCURRENCY: perQueue.default({}),
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
  JOB_ATTEMPTS: perQueue.default({}),
  SMTP_URL: url(/^smtps?:$/, 'expected smtp://user:pass@host:port or smtps://…').optional(),
  SMTP_FROM: z.email().default('fatture@antaeus.example'),
  SMTP_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  SMTP_BREAKER_RESET_MS: integer(10, 3_600_000).default(30_000),
  SDI_ADDRESS: z.email().default('sdi01@pec.fatturapa.it'),
  SDI_TRANSMITTER_ID: taxId.optional(),
  SDI_INBOX_DIR: z.string().min(1).default('./data/sdi-inbox'),
  SDI_SIMULATOR_DELAY_MS: integer(0, 600_000).default(1000),
  SELLER_NAME: latin(80).default('Antaeus S.r.l.'),
  SELLER_VAT_NUMBER: taxId.default({ country: 'IT', code: DEMO_SELLER_VAT }),
  SELLER_FISCAL_CODE: z.string().regex(/^[A-Z0-9]{11,16}$/, 'expected 11 to 16 capital letters or digits').optional(),
  SELLER_REGIME_FISCALE: z.enum(REGIMI_FISCALI).default('RF01'),
  SELLER_STREET: latin(60).default('Via dei Giganti 1'),
  SELLER_POSTAL_CODE: z.string().regex(/^\d{5}$/, 'expected five digits').default('20121'),
  SELLER_CITY: latin(60).default('Milano'),
  SELLER_PROVINCE: z.string().regex(/^[A-Z]{2}$/, 'expected two capital letters').optional(),
  SELLER_COUNTRY: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO country code such as IT').default('IT'),
  PAYMENT_PROVIDER_URL: url(/^https?:$/, 'expected an http(s) URL').optional(),
  PAYMENT_PROVIDER_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  JOB_LOCK_MS: integer(1000, 3_600_000).default(30_000),
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
  if (e.NODE_ENV === 'production') {
    const missing = REQUIRED_IN_PRODUCTION.filter((name) => present[name] === undefined);
    if (missing.length) throw new ConfigError(`Invalid configuration: ${missing.join(', ')} required when NODE_ENV=production`);
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
    jobAttempts: e.JOB_ATTEMPTS,
    smtpUrl: e.SMTP_URL,
    smtpFrom: e.SMTP_FROM,
    smtpTimeoutMs: e.SMTP_TIMEOUT_MS,
    smtpBreakerResetMs: e.SMTP_BREAKER_RESET_MS,
    sdiAddress: e.SDI_ADDRESS,
    sdiTransmitterId: e.SDI_TRANSMITTER_ID ?? e.SELLER_VAT_NUMBER,
    sdiInboxDir: e.SDI_INBOX_DIR,
    sdiSimulatorDelayMs: e.SDI_SIMULATOR_DELAY_MS,
    seller: {
      name: e.SELLER_NAME,
      vat: e.SELLER_VAT_NUMBER,
      fiscalCode: e.SELLER_FISCAL_CODE,
      regimeFiscale: e.SELLER_REGIME_FISCALE,
      address: {
        street: e.SELLER_STREET,
        postalCode: e.SELLER_POSTAL_CODE,
        city: e.SELLER_CITY,
        province: e.SELLER_PROVINCE,
        country: e.SELLER_COUNTRY,
      },
    },
    paymentProviderUrl: e.PAYMENT_PROVIDER_URL,
    paymentProviderTimeoutMs: e.PAYMENT_PROVIDER_TIMEOUT_MS,
    jobLockMs: e.JOB_LOCK_MS,
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
