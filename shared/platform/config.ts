// Reads and validates the environment once: one schema, grouped by capability, is the parser, and its inferred type is the Config.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { QUEUE_NAMES, isQueueName, type QueueName } from './queue-names.js';
import { parseAllowlist } from './ssrf.js';

/** Thrown for a bad environment; its message is one line naming every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

// Each key of the schema is a variable: `retryBaseDelayMs` is read from RETRY_BASE_DELAY_MS, and so on for every key.
export const envName = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

// ---- value parsers -----------------------------------------------------------------------------------------------

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

const positiveNumbers = list
  .refine((parts) => parts.length > 0 && parts.every((p) => /^\d+(\.\d+)?$/.test(p)), 'expected comma-separated non-negative numbers')
  .transform((parts) => parts.map(Number));

const queueList = list
  .refine(
    (parts) => parts.length > 0 && parts.every((p) => p === 'all' || isQueueName(p)),
    `expected comma-separated queue names from: ${QUEUE_NAMES.join(', ')}`,
  )
  .transform((parts): QueueName[] => (parts.includes('all') ? [...QUEUE_NAMES] : (parts as QueueName[])));

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

/** Host names, IP addresses and CIDR ranges, parsed once here: the allowlist the SSRF guard consults. */
const allowlist = list.transform((entries, ctx) => {
  try {
    return parseAllowlist(entries);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected host names, IP addresses or CIDR ranges such as 10.0.0.0/8' });
    return z.NEVER;
  }
});

/** A tax id as FatturaPA writes it: country code, then the code (IdPaese + IdCodice). */
const taxId = z
  .string()
  .regex(/^[A-Z]{2}[A-Za-z0-9]{1,28}$/, 'expected a country code and a tax code, e.g. IT01234567890')
  .transform((s) => ({ country: s.slice(0, 2), code: s.slice(2) }));

const latin = (max: number) => z.string().max(max).regex(/^[\x20-\x7e\xa0-\xff]+$/, 'expected Latin-1 text, as the SdI accepts');

const REGIMI_FISCALI = [
  'RF01', 'RF02', 'RF04', 'RF05', 'RF06', 'RF07', 'RF08', 'RF09', 'RF10',
  'RF11', 'RF12', 'RF13', 'RF14', 'RF15', 'RF16', 'RF17', 'RF18', 'RF19',
] as const;

/** A made-up Italian VAT number with a valid check digit, for development only. */
const DEMO_SELLER_VAT = '01234567897';

// ---- the variables, by capability --------------------------------------------------------------------------------

/** The environment's schema. Only one default depends on the environment, so it is built for the NODE_ENV at hand. */
function configSchema(production: boolean) {
  return z.object({
    // Processes, Redis and the database.
    /** `development`, `test` or `production`; production refuses development-only defaults. @defaultValue `development` */
    nodeEnv: z.enum(['development', 'test', 'production']).default('development'),
    /** HTTP port of the `web` process. @defaultValue `3000` */
    port: integer(0, 65535).default(3000),
    /** Redis holding the queues. @defaultValue `redis://127.0.0.1:6379` */
    redisUrl: url(/^rediss?:$/, 'expected redis://host:port or rediss://…').default('redis://127.0.0.1:6379'),
    /** `postgres://…` or a SQLite file path. @defaultValue `./data/antaeus.sqlite` */
    databaseUrl: z.string().min(1).default('./data/antaeus.sqlite'),
    /** pino log level. @defaultValue `info` */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** How long active jobs may run after SIGTERM before the worker gives them up. @defaultValue `25000` */
    shutdownGraceMs: integer(0, 3_600_000).default(25_000),

    // The worker fleet: queues, retries, locks.
    /** BullMQ key prefix; wrap it in `{…}` for Redis Cluster. @defaultValue `antaeus` */
    queuePrefix: z.string().regex(/^[A-Za-z0-9_{}.-]+$/, 'expected letters, digits, _ . - { }').default('antaeus'),
    /** Queues this `worker` process serves, comma-separated, or `all`. @defaultValue every queue */
    workerQueues: queueList.default([...QUEUE_NAMES]),
    /** Jobs processed in parallel per queue by one worker process: `10` or `callback=50,charge=20`. @defaultValue see queues/policy.ts */
    workerConcurrency: perQueue.default({}),
    /** Attempts per job before it goes to the DLQ: `5` or `sdi-send=20,charge=10`. @defaultValue see queues/policy.ts */
    jobAttempts: perQueue.default({}),
    /** How long a worker's lock on an active job lasts, renewed at half; a worker that dies loses its jobs to another after this. @defaultValue `30000` */
    jobLockMs: integer(1000, 3_600_000).default(30_000),
    /** Base delay of the exponential retry backoff of every queue but `callback`. @defaultValue `1000` */
    retryBaseDelayMs: integer(1, 3_600_000).default(1000),

    // Access: API keys, operators, the demo operator.
    /** Seconds the API remembers who an API key belongs to and its customers; revocations take effect within it, 0 disables. @defaultValue `10` */
    authCacheSeconds: integer(0, 3600).default(10),
    /** API key of the demo operator created by the development seed. @defaultValue generated and printed */
    demoApiKey: z.string().min(16, 'expected at least 16 characters').optional(),
    /** Bull Board user. @defaultValue `admin` */
    adminUser: z.string().min(1).default('admin'),
    /** Bull Board password; required in production. @defaultValue development: generated and printed */
    adminPassword: z.string().min(8, 'expected at least 8 characters').optional(),
    /** Requests per second one user may sustain, counted in Redis across every `web` process (see api/rate-limit.ts). @defaultValue `100` */
    rateLimitPerSecond: integer(1, 10_000_000).default(100),
    /** The most one user may spend at once (at least the rate): the quota of each window of burst ÷ rate seconds, rounded up. @defaultValue `200` */
    rateLimitBurst: integer(1, 10_000_000).default(200),

    // Callbacks.
    /** Hosts or CIDRs exempt from the callback SSRF guard, parsed. @defaultValue development and test: `localhost,127.0.0.1`; production: none */
    callbackAllowedHosts: allowlist.prefault(production ? '' : 'localhost,127.0.0.1'),
    /** Time allowed for one callback attempt, connection to last byte. @defaultValue `10000` */
    callbackTimeoutMs: integer(1, 120_000).default(10_000),
    /** Seconds to wait before each callback retry; one attempt more than entries. @defaultValue `5,300,1800,7200,18000,36000,36000` */
    callbackRetrySchedule: positiveNumbers.default([5, 300, 1800, 7200, 18000, 36000, 36000]),

    // The SdI: mail, transmitter, simulator.
    /** SMTP server for SdI mail; `smtps://` for implicit TLS, `?requireTLS=true` to insist on STARTTLS. Required in production. @defaultValue development: the SdI simulator */
    smtpUrl: url(/^smtps?:$/, 'expected smtp://user:pass@host:port or smtps://…').optional(),
    /** Sender of SdI mail; with a PEC channel, the PEC mailbox registered with the SdI. @defaultValue `fatture@antaeus.example` */
    smtpFrom: z.email().default('fatture@antaeus.example'),
    /** Time allowed for each SMTP step: connecting, greeting, every command. @defaultValue `30000` */
    smtpTimeoutMs: integer(100, 600_000).default(30_000),
    /** How long the SMTP circuit stays open after repeated failures before one trial send. @defaultValue `30000` */
    smtpBreakerResetMs: integer(10, 3_600_000).default(30_000),
    /** Where invoices are mailed. @defaultValue `sdi01@pec.fatturapa.it` */
    sdiAddress: z.email().default('sdi01@pec.fatturapa.it'),
    /** Who transmits to the SdI (country code and tax code); names every file. @defaultValue `SELLER_VAT_NUMBER` (see shared/sdi/seller.ts) */
    sdiTransmitterId: taxId.optional(),
    /** Where the development SdI simulator keeps every message it receives. @defaultValue `./data/sdi-inbox` */
    sdiInboxDir: z.string().min(1).default('./data/sdi-inbox'),
    /** How long the development SdI simulator waits before answering. @defaultValue `1000` */
    sdiSimulatorDelayMs: integer(0, 600_000).default(1000),
    /** XSD validations (SdI receipts in the API, invoices in the workers) one process runs at once, each on a thread of its own. @defaultValue `min(2, cores)` */
    xsdPoolSize: integer(1, 64).default(Math.min(2, availableParallelism())),
    /** XSD validations that may wait for a thread; one more is refused at once (503 to a receipt, a retry to a job). @defaultValue `64` */
    xsdQueueSize: integer(0, 100_000).default(64),
    /** Milliseconds an XSD validation may wait and run, together, before it is abandoned (503 to a receipt, a retry to a job). @defaultValue `10000` */
    xsdTimeoutMs: integer(1, 600_000).default(10_000),

    // The seller (CedentePrestatore) on every internal invoice: our company. Required in production.
    /** The registered name. @defaultValue a demo company, `Antaeus S.r.l.` */
    sellerName: latin(80).default('Antaeus S.r.l.'),
    /** Country code and VAT number, e.g. IT01234567890. @defaultValue `IT01234567897`, made up */
    sellerVatNumber: taxId.default({ country: 'IT', code: DEMO_SELLER_VAT }),
    /** The fiscal code, when it differs from the VAT number. @defaultValue none */
    sellerFiscalCode: z.string().regex(/^[A-Z0-9]{11,16}$/, 'expected 11 to 16 capital letters or digits').optional(),
    /** The tax regime, RF01 (ordinary) to RF19. @defaultValue `RF01` */
    sellerRegimeFiscale: z.enum(REGIMI_FISCALI).default('RF01'),
    /** Street and number. @defaultValue `Via dei Giganti 1` */
    sellerStreet: latin(60).default('Via dei Giganti 1'),
    /** Five digits. @defaultValue `20121` */
    sellerPostalCode: z.string().regex(/^\d{5}$/, 'expected five digits').default('20121'),
    /** @defaultValue `Milano` */
    sellerCity: latin(60).default('Milano'),
    /** Two capital letters, for an Italian address. @defaultValue none */
    sellerProvince: z.string().regex(/^[A-Z]{2}$/, 'expected two capital letters').optional(),
    /** ISO 3166-1 alpha-2. @defaultValue `IT` */
    sellerCountry: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO country code such as IT').default('IT'),

    // Billing: the payment provider, the monthly run, dunning.
    /** Payment provider base URL; required in production. @defaultValue development: the sandbox */
    paymentProviderUrl: url(/^https?:$/, 'expected an http(s) URL').optional(),
    /** Time allowed for one charge request to the payment provider; a charge in flight holds its invoice for twice this. @defaultValue `10000` */
    paymentProviderTimeoutMs: integer(100, 600_000).default(10_000),
    /** How long the payment provider's circuit stays open after repeated failures before one trial call; charge jobs wait meanwhile without spending attempts. @defaultValue `30000` */
    paymentBreakerResetMs: integer(10, 3_600_000).default(30_000),
    /** Cron pattern of the monthly billing run. @defaultValue `0 0 1 * *` */
    billingCron: z.string().min(9).default('0 0 1 * *'),
    /** IANA time zone of `BILLING_CRON`. @defaultValue `UTC` */
    billingTz: timeZone.default('UTC'),
    /** Days between retries after an insufficient balance. @defaultValue `1,3,7` */
    dunningDays: positiveNumbers.default([1, 3, 7]),

    // Orders: the fulfilment service the saga calls once an order is paid.
    /** The order fulfilment service's base URL (`POST /fulfilments`); required by a worker serving `orders`. @defaultValue development: the sandbox */
    fulfilmentUrl: url(/^https?:$/, 'expected an http(s) URL').optional(),
    /** Time allowed for one fulfilment request, connection to last byte, before it counts as no answer. @defaultValue `10000` */
    fulfilmentTimeoutMs: integer(100, 600_000).default(10_000),

    // Customer mail (the order-failed notice), sent through SMTP_URL.
    /** Sender of mail to customers. @defaultValue `noreply@antaeus.example` */
    mailFrom: z.email().default('noreply@antaeus.example'),
    /** Where the development SMTP server (npm start) keeps mail addressed to anyone but the SdI, as `.eml` files. @defaultValue `./data/mailbox` */
    mailboxDir: z.string().min(1).default('./data/mailbox'),

    // Reports.
    /** Folder of the CSV reports. @defaultValue `./data/reports` */
    reportsDir: z.string().min(1).default('./data/reports'),
    /** Minutes between scheduled reports. @defaultValue `60` */
    reportsEveryMinutes: integer(1, 525_600).default(60),

    // Data collection.
    /** Gas data provider: the URL its bills are fetched from (GET). @defaultValue development: the sandbox */
    gasProviderUrl: url(/^https?:$/, 'expected an http(s) URL').optional(),
    /** Internet data provider: the URL its bills are fetched from (GET). @defaultValue development: the sandbox */
    internetProviderUrl: url(/^https?:$/, 'expected an http(s) URL').optional(),
    /** Tries of one collection (its provider's answers, not breaker waits) before it is critically failed. @defaultValue `10` */
    collectMaxAttempts: integer(1, 100).default(10),
    /** Time allowed for one provider call, connection to last byte, before it counts as no answer. @defaultValue `10000` */
    collectTimeoutMs: integer(100, 600_000).default(10_000),
    /** The largest provider answer accepted; a larger one fails the collection at once. @defaultValue `1048576` (1 MB) */
    collectMaxBytes: integer(1024, 100 * 1024 * 1024).default(1024 * 1024),
    /** How long a provider's circuit stays open after repeated failures before one trial call; its collections wait meanwhile without spending attempts. @defaultValue `30000` */
    collectBreakerResetMs: integer(10, 3_600_000).default(30_000),
  });
}

export type Config = z.output<ReturnType<typeof configSchema>>;

/** Set in production: the development defaults would put a made-up company on real invoices. */
const REQUIRED_IN_PRODUCTION = [
  'adminPassword', 'smtpUrl', 'paymentProviderUrl', 'sellerName', 'sellerVatNumber', 'sellerStreet', 'sellerPostalCode', 'sellerCity',
] as const satisfies readonly (keyof Config)[];

/** Every environment variable the configuration reads. */
export const ENV_NAMES = Object.keys(configSchema(false).shape).map(envName);

/** Parses an environment into a Config; throws ConfigError listing every bad variable on one line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", as in most .env tooling.
  const read = (key: string) => (env[envName(key)] === '' ? undefined : env[envName(key)]);
  const production = read('nodeEnv') === 'production';
  const schema = configSchema(production);
  const input = Object.fromEntries(Object.keys(schema.shape).map((key) => [key, read(key)]).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0]);
      return `${envName(key)}=${JSON.stringify(read(key) ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  if (production) {
    const missing = REQUIRED_IN_PRODUCTION.filter((key) => read(key) === undefined).map(envName);
    if (missing.length) throw new ConfigError(`Invalid configuration: ${missing.join(', ')} required when NODE_ENV=production`);
  }
  return parsed.data;
}

/** Loads `.env` from the working directory when present; variables already set win. */
export function loadDotEnv(path = '.env'): void {
  try {
    process.loadEnvFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
