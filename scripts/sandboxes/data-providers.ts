// The development data-collection providers: gas and internet bills over plain node:http, with latency, failures, rate limits, hangs and scripted answers on demand.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import {
  chance,
  checkedLatency,
  checkedRates as checkedRatesOf,
  closeServer,
  drawLatency,
  errorBody,
  holdUnanswered,
  HttpError,
  knownFields,
  listen,
  notAllowed,
  orInvalidRequest,
  readJson,
  requestHandler,
  send,
  Timers,
  type Latency,
  type SandboxLog,
} from './http-kit.js';

/** The providers the sandbox serves, each at its own path: `/gas`, `/internet`. */
export const DATA_PROVIDERS = ['gas', 'internet'] as const;

export type DataProvider = (typeof DATA_PROVIDERS)[number];

/** Each 0..1, drawn per bill request that has no scripted answer. */
export interface DataProviderSandboxRates {
  /** Answer 503 server_error. @defaultValue 0 */
  failure?: number;
  /** Never answer: the socket is held `timeoutHoldMs`, then destroyed. @defaultValue 0 */
  timeout?: number;
  /** Answer 429 rate_limited with `Retry-After: retryAfterSeconds`. @defaultValue 0 */
  rateLimit?: number;
}

/** What `GET /settings` shows and `PUT /settings` replaces. */
export interface DataProviderSandboxSettings {
  /** The wait before each bill request is answered. */
  latencyMs: Latency;
  /** Every rate, 0 where not set: those of every provider without rates of its own. Setting them drops `providerRates`. */
  rates: Required<DataProviderSandboxRates>;
  /** The Retry-After, in seconds, of a drawn 429. */
  retryAfterSeconds: number;
  /** Providers given rates of their own, which stand in for `rates` for them (one provider down, the other up). Shown only when there are some. */
  providerRates?: Partial<Record<DataProvider, Required<DataProviderSandboxRates>>>;
}

/**
 * One answer a test orders for a provider's next request, whatever the rates:
 * - `'ok'`: 200 with a bill;
 * - `'timeout'`: no answer, the socket held `timeoutHoldMs` then destroyed;
 * - `'not-json'`: 200 with `content-type: text/html` and an HTML page, as a proxy or a maintenance page answers;
 * - `'oversize'`: 200 with a valid JSON array of about 2 MB, streamed without a content-length;
 * - `{ status, retryAfter?, body? }`: that status (200..599), `body` as JSON (an error body when not given), and a
 *   Retry-After header when `retryAfter` is given (204 and 304 go without a body).
 */
export type ScriptedAnswer = 'ok' | 'timeout' | 'not-json' | 'oversize' | { status: number; retryAfter?: string; body?: unknown };

/** One bill request in the sandbox's log. */
export interface ProviderRequest {
  readonly provider: DataProvider;
  /** Date.now() when it was received, before its latency. */
  readonly at: number;
  /** Its x-request-id header, null without one. */
  readonly requestId: string | null;
  /** The status answered, or 'timeout' for a request held without an answer. */
  readonly answer: number | 'timeout';
}

/** ISO dates (YYYY-MM-DD), both included. */
export interface BillPeriod {
  from: string;
  to: string;
}

/** What `GET /gas` answers: last month's gas bill. */
export interface GasBill {
  provider: 'gas';
  supplier: string;
  accountNumber: string;
  period: BillPeriod;
  /** A decimal string with two places, e.g. "84.20". */
  amount: string;
  currency: 'EUR';
  /** ISO date. */
  dueDate: string;
  meter: {
    /** The PDR: 14 digits. */
    id: string;
    /** Standard cubic metres. */
    unit: 'Smc';
    previousReading: number;
    currentReading: number;
    /** currentReading − previousReading. */
    consumption: number;
  };
}

/** What `GET /internet` answers: last month's internet bill, whose line amounts add up to `amount`. */
export interface InternetBill {
  provider: 'internet';
  supplier: string;
  accountNumber: string;
  plan: string;
  period: BillPeriod;
  /** A decimal string with two places, the sum of the lines'. */
  amount: string;
  currency: 'EUR';
  /** ISO date. */
  dueDate: string;
  lines: { description: string; amount: string }[];
}

export interface DataProviderSandboxOptions {
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** Wait before each bill request is answered, scripted ones included. @defaultValue 0 */
  latencyMs?: Latency;
  /** Failures, hangs and rate limits on demand, for both providers; `setRates(rates, provider)` gives one its own. @defaultValue every rate 0 */
  rates?: DataProviderSandboxRates;
  /** The Retry-After, in whole seconds, sent with a drawn 429. @defaultValue 2 */
  retryAfterSeconds?: number;
  /**
   * Returns [0, 1). Per bill request it is drawn for a latency range, then (without a scripted answer) failure, then
   * rateLimit, then timeout, each only when its rate is above 0; then for a bill answered, for the bill's values
   * (7 draws for gas, 5 for internet).
   * @defaultValue Math.random
   */
  random?: () => number;
  /** How long a "timeout" holds the connection before destroying it. @defaultValue 30000 */
  timeoutHoldMs?: number;
  /** @defaultValue no logging */
  log?: SandboxLog;
}

const RATE_NAMES = ['failure', 'timeout', 'rateLimit'] as const;

export class DataProviderSandbox {
  private readonly timers = new Timers();
  private latency: Latency = 0;
  private rates: Required<DataProviderSandboxRates> = { failure: 0, timeout: 0, rateLimit: 0 };
  private providerRates: Partial<Record<DataProvider, Required<DataProviderSandboxRates>>> = {};
  private retryAfterSeconds = 2;
  /** What {@link requests} shows; only ever appended to, so a test can hold it and watch it grow. */
  private readonly requestLog: ProviderRequest[] = [];
  private readonly scripts: Record<DataProvider, ScriptedAnswer[]> = { gas: [], internet: [] };

  private constructor(
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
    /** The base URL, e.g. `http://127.0.0.1:4030`; each provider is at {@link urlFor}. */
    readonly url: string,
    private readonly random: () => number,
    private readonly timeoutHoldMs: number,
    private readonly log: SandboxLog | undefined,
  ) {
    server.on('request', requestHandler((req, res) => this.route(req, res), log, 'data-provider sandbox'));
  }

  static async start(options: DataProviderSandboxOptions = {}): Promise<DataProviderSandbox> {
    const { server, sockets, url } = await listen(options);
    const sandbox = new DataProviderSandbox(server, sockets, url, options.random ?? Math.random, options.timeoutHoldMs ?? 30_000, options.log);
    try {
      sandbox.setLatency(options.latencyMs ?? 0);
      if (options.rates) sandbox.setRates(options.rates);
      if (options.retryAfterSeconds !== undefined) sandbox.setRetryAfterSeconds(options.retryAfterSeconds);
    } catch (err) {
      await sandbox.close();
      throw err;
    }
    sandbox.log?.info({ url }, 'data-provider sandbox listening');
    return sandbox;
  }

  /** The URL a provider's bills are fetched from (GET), e.g. `http://127.0.0.1:4030/gas`. */
  urlFor(provider: DataProvider): string {
    return `${this.url}/${checkedProvider(provider)}`;
  }

  /** Every bill request answered or held, in the order their answers were decided. */
  get requests(): readonly ProviderRequest[] {
    return this.requestLog;
  }

  get settings(): DataProviderSandboxSettings {
    const settings: DataProviderSandboxSettings = { latencyMs: this.latency, rates: { ...this.rates }, retryAfterSeconds: this.retryAfterSeconds };
    const own = Object.entries(this.providerRates);
    if (own.length) settings.providerRates = Object.fromEntries(own.map(([provider, rates]) => [provider, { ...rates }]));
    return settings;
  }

  /**
   * Queues answers for the provider's next requests, after any still queued: each request takes the next one, in the
   * order the requests arrive, and no rate is drawn for it; the latency still applies. Once they are used up, the
   * rates decide again.
   */
  script(provider: DataProvider, answers: readonly ScriptedAnswer[]): void {
    checkedProvider(provider);
    // Checked here, not when answered: a mistake in a test should fail the test's line, not come back as a 500.
    for (const answer of answers) checkedAnswer(answer);
    // Copies: a test that reuses its answer object afterwards must not change what is queued.
    this.scripts[provider].push(...answers.map((answer) => (typeof answer === 'object' ? { ...answer } : answer)));
  }

  /**
   * Replaces every rate; a rate not given becomes 0. Without `provider`, the rates of every provider: any provider's
   * own rates are dropped. With one, that provider's own rates, which stand in for the shared ones for it.
   */
  setRates(rates: DataProviderSandboxRates, provider?: DataProvider): void {
    const checked = checkedRates(rates);
    if (provider === undefined) {
      this.rates = checked;
      this.providerRates = {};
    } else {
      this.providerRates[checkedProvider(provider)] = checked;
    }
  }

  setLatency(latencyMs: Latency): void {
    this.latency = checkedLatency(latencyMs);
  }

  setRetryAfterSeconds(seconds: number): void {
    this.retryAfterSeconds = checkedRetryAfter(seconds);
  }

  /** Stops at once: held "timeouts", streams and keep-alive connections are destroyed, so closing never hangs. */
  async close(): Promise<void> {
    this.timers.clear();
    await closeServer(this.server, this.sockets);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    const provider = DATA_PROVIDERS.find((name) => path === `/${name}`);
    if (provider) {
      if (req.method === 'GET') return this.answer(provider, req, res);
      return notAllowed(res, 'GET');
    }
    if (path === '/requests') {
      if (req.method !== 'GET') return notAllowed(res, 'GET');
      const only = new URLSearchParams(query).get('provider');
      if (only === null) return send(res, 200, { data: this.requestLog });
      if (!DATA_PROVIDERS.includes(only as DataProvider)) throw new HttpError(400, 'invalid_request', `provider must be one of ${DATA_PROVIDERS.join(', ')}`);
      return send(res, 200, { data: this.requestLog.filter((r) => r.provider === only) });
    }
    if (path === '/settings') {
      if (req.method === 'GET') return send(res, 200, this.settings);
      if (req.method === 'PUT') {
        const { latencyMs, rates, retryAfterSeconds, providerRates } = validSettings(await readJson(req));
        // All checked before any is applied: a rejected PUT changes nothing.
        if (latencyMs !== undefined) this.latency = latencyMs;
        // As setRates: the shared rates are every provider's, so they drop the providers' own, unless given with them.
        if (rates !== undefined) this.rates = rates;
        if (rates !== undefined || providerRates !== undefined) this.providerRates = providerRates ?? {};
        if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
        this.log?.info(this.settings, 'data-provider sandbox settings changed');
        return send(res, 200, this.settings);
      }
      return notAllowed(res, 'GET, PUT');
    }
    send(res, 404, errorBody('not_found', `no route ${req.method} ${path}`));
  }

  private async answer(provider: DataProvider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' ? header : null;
    // Taken on arrival, not after the latency: with a random latency a later request could otherwise take an earlier one's answer.
    const scripted = this.scripts[provider].shift();
    await this.timers.wait(drawLatency(this.latency, this.random));
    const answer = scripted ?? this.drawn(this.providerRates[provider] ?? this.rates);
    const status = answer === 'timeout' ? 'timeout' : typeof answer === 'string' ? 200 : answer.status;
    this.requestLog.push(Object.freeze({ provider, at, requestId, answer: status }));
    this.log?.debug({ provider, requestId, answer: status, scripted: scripted !== undefined }, 'data-provider sandbox: answered');
    if (answer === 'timeout') return holdUnanswered(req, res, this.timers, this.timeoutHoldMs);
    if (answer === 'ok') return send(res, 200, provider === 'gas' ? gasBill(this.random, new Date()) : internetBill(this.random, new Date()));
    if (answer === 'not-json') return sendHtml(res);
    if (answer === 'oversize') return sendOversize(res);
    sendStatus(res, answer);
  }

  /** The answer `rates` give, in the documented draw order. */
  private drawn(rates: Required<DataProviderSandboxRates>): ScriptedAnswer {
    if (chance(rates.failure, this.random)) return { status: 503, body: errorBody('server_error', 'injected server error') };
    if (chance(rates.rateLimit, this.random)) {
      const seconds = this.retryAfterSeconds;
      return { status: 429, retryAfter: String(seconds), body: errorBody('rate_limited', `too many requests; retry after ${seconds} s`) };
    }
    if (chance(rates.timeout, this.random)) return 'timeout';
    return 'ok';
  }
}

/** Every rate between 0 and 1, 0 where not given; throws RangeError naming the first that is not. */
function checkedRates(rates: DataProviderSandboxRates): Required<DataProviderSandboxRates> {
  return checkedRatesOf(rates, RATE_NAMES);
}

function checkedProvider(provider: DataProvider): DataProvider {
  if (!DATA_PROVIDERS.includes(provider)) throw new RangeError(`no data provider ${JSON.stringify(provider)}; there are ${DATA_PROVIDERS.join(', ')}`);
  return provider;
}

function checkedRetryAfter(seconds: unknown): number {
  // Whole seconds: the delay-seconds form of Retry-After has no fractions.
  if (!(Number.isSafeInteger(seconds) && (seconds as number) >= 0)) throw new RangeError(`retryAfterSeconds must be a whole number of seconds ≥ 0, got ${JSON.stringify(seconds)}`);
  return seconds as number;
}

function checkedAnswer(answer: ScriptedAnswer): void {
  if (answer === 'ok' || answer === 'timeout' || answer === 'not-json' || answer === 'oversize') return;
  if (typeof answer !== 'object' || answer === null) throw new TypeError(`a scripted answer is 'ok', 'timeout', 'not-json', 'oversize' or { status, retryAfter?, body? }; got ${JSON.stringify(answer)}`);
  if (!(Number.isInteger(answer.status) && answer.status >= 200 && answer.status <= 599)) throw new RangeError(`a scripted status must be 200..599, got ${JSON.stringify(answer.status)}`);
  // A header value with a line break would make node throw when it is sent.
  if (answer.retryAfter !== undefined && !(typeof answer.retryAfter === 'string' && /^[\t\x20-\x7e]*$/.test(answer.retryAfter))) {
    throw new TypeError(`a scripted retryAfter must be a header value, got ${JSON.stringify(answer.retryAfter)}`);
  }
}

/**
 * `{ latencyMs?, rates?, retryAfterSeconds?, providerRates? }`, each checked as its setter checks it; unknown fields,
 * providers and rate names are refused, so a typo is not silently ignored.
 */
function validSettings(body: unknown): Partial<DataProviderSandboxSettings> {
  const shape =
    'settings are { latencyMs?: ms or [min, max], rates?: { failure?, timeout?, rateLimit? } each between 0 and 1, ' +
    'retryAfterSeconds?: whole seconds, providerRates?: { gas?: rates, internet?: rates } }';
  const { latencyMs, rates, retryAfterSeconds, providerRates } = knownFields(body, ['latencyMs', 'rates', 'retryAfterSeconds', 'providerRates'], shape);
  if (rates !== undefined) knownFields(rates, RATE_NAMES, shape);
  const own = providerRates === undefined ? undefined : Object.entries(knownFields(providerRates, DATA_PROVIDERS, shape));
  for (const [, value] of own ?? []) knownFields(value, RATE_NAMES, shape);
  return orInvalidRequest(() => ({
    latencyMs: latencyMs === undefined ? undefined : checkedLatency(latencyMs as Latency),
    rates: rates === undefined ? undefined : checkedRates(rates as DataProviderSandboxRates),
    retryAfterSeconds: retryAfterSeconds === undefined ? undefined : checkedRetryAfter(retryAfterSeconds),
    providerRates: own && Object.fromEntries(own.map(([provider, value]) => [provider, checkedRates(value as DataProviderSandboxRates)])),
  }));
}

function sendStatus(res: ServerResponse, answer: { status: number; retryAfter?: string; body?: unknown }): void {
  if (answer.retryAfter !== undefined) res.setHeader('retry-after', answer.retryAfter);
  // These two have no body by definition; node would drop it anyway, leaving a content-length that lies.
  if (answer.status === 204 || answer.status === 304) {
    if (!res.headersSent && !res.destroyed) res.writeHead(answer.status).end();
    return;
  }
  send(res, answer.status, answer.body === undefined ? errorBody(errorCode(answer.status), `scripted ${answer.status} answer`) : answer.body);
}

function errorCode(status: number): string {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return ({ 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' } as Record<number, string>)[status] ?? 'invalid_request';
}

// What a provider's load balancer or a captive portal answers: a 200 that is a page, not the bill.
const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Service Temporarily Unavailable</title></head>\n' +
  '<body><h1>Service Temporarily Unavailable</h1><p>The server is down for maintenance. Please try again later.</p></body></html>\n';

function sendHtml(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(HTML_PAGE) }).end(HTML_PAGE);
}

let oversize: Buffer[] | undefined;

/** About 2 MB of a valid JSON array, in 64 KiB chunks; made once, on first use. */
function oversizeChunks(): Buffer[] {
  if (oversize) return oversize;
  const entries: string[] = [];
  for (let line = 0; line < 2048; line++) entries.push(JSON.stringify({ line, description: `consumption detail ${'x'.repeat(1000)}` }));
  const json = Buffer.from(`[${entries.join(',')}]`);
  oversize = [];
  for (let start = 0; start < json.length; start += 64 * 1024) oversize.push(json.subarray(start, start + 64 * 1024));
  return oversize;
}

/** Streamed without a content-length, so a client has to count what arrives rather than trust a header. */
function sendOversize(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, { 'content-type': 'application/json' });
  // A client that stops reading at its limit, or a close(), destroys the response: nothing to do then.
  pipeline(Readable.from(oversizeChunks()), res).catch(() => {});
}

const GAS_SUPPLIERS = ['Enel Energia', 'Eni Plenitude', 'Edison Energia', 'A2A Energia', 'Hera Comm'];
const INTERNET_SUPPLIERS = ['TIM', 'Fastweb', 'Vodafone', 'WindTre', 'Iliad'];
/** Plans and their monthly fee in cents. */
const PLANS: readonly (readonly [string, number])[] = [
  ['Fibra 1 Gbit/s', 2690],
  ['Fibra 2.5 Gbit/s', 2990],
  ['FWA 100 Mbit/s', 2490],
  ['ADSL 20 Mbit/s', 2290],
];

/** Last month (UTC) as from/to ISO dates, and the bill due at the end of this month. */
function billDates(now: Date): { period: BillPeriod; dueDate: string } {
  const [year, month] = [now.getUTCFullYear(), now.getUTCMonth()];
  const day = (m: number, d: number) => new Date(Date.UTC(year, m, d)).toISOString().slice(0, 10);
  return { period: { from: day(month - 1, 1), to: day(month, 0) }, dueDate: day(month + 1, 0) };
}

/** Seven draws: supplier, account, meter, previous reading, consumption, price per Smc, fixed charges. */
function gasBill(random: () => number, now: Date): GasBill {
  const supplier = pick(GAS_SUPPLIERS, random());
  const accountNumber = `GAS-${digits(8, random())}`;
  const meterId = digits(14, random());
  const previousReading = 1000 + Math.floor(random() * 20_000);
  const consumption = 20 + Math.floor(random() * 181);
  const centsPerSmc = 95 + Math.floor(random() * 41);
  const fixedCents = 800 + Math.floor(random() * 801);
  const { period, dueDate } = billDates(now);
  return {
    provider: 'gas',
    supplier,
    accountNumber,
    period,
    amount: decimal(consumption * centsPerSmc + fixedCents),
    currency: 'EUR',
    dueDate,
    meter: { id: meterId, unit: 'Smc', previousReading, currentReading: previousReading + consumption, consumption },
  };
}

/** Five draws: supplier, account, plan, modem rental or not, calls. */
function internetBill(random: () => number, now: Date): InternetBill {
  const supplier = pick(INTERNET_SUPPLIERS, random());
  const accountNumber = `NET-${digits(8, random())}`;
  const [plan, feeCents] = pick(PLANS, random());
  const lines: [string, number][] = [[`Monthly fee, ${plan}`, feeCents]];
  if (random() < 0.6) lines.push(['Modem rental', 499]);
  const callCents = Math.floor(random() * 800);
  // Under a euro of calls is in the plan: no line for it.
  if (callCents >= 100) lines.push(['Calls to mobiles and abroad', callCents]);
  const { period, dueDate } = billDates(now);
  return {
    provider: 'internet',
    supplier,
    accountNumber,
    plan,
    period,
    amount: decimal(lines.reduce((sum, [, cents]) => sum + cents, 0)),
    currency: 'EUR',
    dueDate,
    lines: lines.map(([description, cents]) => ({ description, amount: decimal(cents) })),
  };
}

function pick<T>(list: readonly T[], r: number): T {
  return list[Math.min(list.length - 1, Math.floor(r * list.length))]!;
}

function digits(count: number, r: number): string {
  return String(Math.floor(r * 10 ** count)).padStart(count, '0');
}

/** Integer cents as "84.20". */
function decimal(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

// Run directly (`node --import tsx scripts/sandboxes/data-providers.ts`): both providers on PORT (default 4030), slow
// and failing about half the time, as the original mock did. No top-level await: mocha loads test files that import
// this module through require.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void runStandalone().catch((err: unknown) => {
    console.error('data-provider sandbox could not start:', err);
    process.exit(1);
  });
}

async function runStandalone(): Promise<void> {
  const sandbox = await DataProviderSandbox.start({ port: Number(process.env.PORT || 4030), latencyMs: [100, 800], rates: { failure: 0.5 } });
  console.log(
    `data-provider sandbox listening on ${sandbox.url}, gas bills at ${sandbox.urlFor('gas')} and internet bills at ${sandbox.urlFor('internet')} ` +
      `(100–800 ms latency, about half the calls fail, like the original mock); to change the failure rate: ` +
      `curl -X PUT ${sandbox.url}/settings -H 'content-type: application/json' -d '{"rates":{"failure":0.1}}'`,
  );
  const stop = () => void sandbox.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
