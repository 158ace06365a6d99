// The development order fulfilment service: the fulfilment contract (POST /fulfilments with an Idempotency-Key) over plain node:http, in memory, with latency, failures and refusals on demand.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
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
  idempotencyKey,
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

/** Each 0..1, drawn per POST /fulfilments that is processed (not for one answered 409 idempotency_key_in_use). */
export interface FulfilmentSandboxRates {
  /** Answer 503 server_error before processing: nothing fulfilled, nothing stored for the key. @defaultValue 0 */
  failure?: number;
  /** Process the request and store its answer, then never answer: the socket is held and destroyed after `timeoutHoldMs`. @defaultValue 0 */
  timeout?: number;
  /** Refuse the order for good: 422 fulfilment_refused, stored for the key. Drawn only for a key without an answer yet. @defaultValue 0 */
  refuse?: number;
}

/** What `GET /settings` shows and `PUT /settings` replaces. */
export interface FulfilmentSandboxSettings {
  /** The wait before each POST /fulfilments is processed. */
  latencyMs: Latency;
  /** Every rate, 0 where not set. */
  rates: Required<FulfilmentSandboxRates>;
}

/** One order the sandbox fulfilled, in its own log. */
export interface FulfilmentRecord {
  /** `ff_` and a UUID without dashes, as answered to the client. */
  readonly id: string;
  /** The key of the request that fulfilled it; its replays get this fulfilment back. */
  readonly idempotencyKey: string;
  /** Antaeus's order id, as the client sent it. */
  readonly orderId: string;
  /** Antaeus's customer id, as the client sent it. */
  readonly customerId: string;
  /** As the client sent it: a decimal string in currency units, e.g. "12.50". */
  readonly amount: string;
  /** ISO 4217, e.g. EUR. */
  readonly currency: string;
  /** ISO 8601, when it was fulfilled. */
  readonly createdAt: string;
}

export interface FulfilmentSandboxOptions {
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** Wait before each POST /fulfilments is processed; its key is in flight meanwhile. @defaultValue 0 */
  latencyMs?: Latency;
  /** Failures and refusals on demand. @defaultValue every rate 0 */
  rates?: FulfilmentSandboxRates;
  /**
   * Returns [0, 1). Per processed POST /fulfilments it is drawn for a latency range, then failure, then (for a key
   * without an answer yet) refuse, then timeout; each only when its rate is above 0.
   * @defaultValue Math.random
   */
  random?: () => number;
  /** How long a "timeout" holds the connection before destroying it. @defaultValue 30000 */
  timeoutHoldMs?: number;
  /** @defaultValue no logging */
  log?: SandboxLog;
}

/** The body of POST /fulfilments, checked: ids non-empty, amount "12.50"-like, currency three capitals. */
interface FulfilmentBody {
  orderId: string;
  customerId: string;
  amount: string;
  currency: string;
}

/** An answer to POST /fulfilments: a status and its body, stored for the key. */
interface Answered {
  readonly status: number;
  readonly body: unknown;
}

const RATE_NAMES = ['failure', 'timeout', 'refuse'] as const;

export class FulfilmentSandbox {
  private readonly timers = new Timers();
  private latency: Latency = 0;
  private rates: Required<FulfilmentSandboxRates> = { failure: 0, timeout: 0, refuse: 0 };
  /** What {@link fulfilments} shows; only ever appended to, so a test can hold it and watch it grow. */
  private readonly records: FulfilmentRecord[] = [];
  /** Every key's first answer, fulfilment or refusal: what its replays get. */
  private readonly answers = new Map<string, Answered>();
  // Keys whose first request is in its latency wait: a second request with one gets 409 idempotency_key_in_use.
  private readonly inFlight = new Set<string>();
  private requestCount = 0;
  private refusalCount = 0;

  private constructor(
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
    /** The base URL a fulfilment client is given, e.g. `http://127.0.0.1:4020`. */
    readonly url: string,
    private readonly random: () => number,
    private readonly timeoutHoldMs: number,
    private readonly log: SandboxLog | undefined,
  ) {
    server.on('request', requestHandler((req, res) => this.route(req, res), log, 'fulfilment sandbox'));
  }

  static async start(options: FulfilmentSandboxOptions = {}): Promise<FulfilmentSandbox> {
    const { server, sockets, url } = await listen(options);
    const sandbox = new FulfilmentSandbox(server, sockets, url, options.random ?? Math.random, options.timeoutHoldMs ?? 30_000, options.log);
    try {
      sandbox.setLatency(options.latencyMs ?? 0);
      if (options.rates) sandbox.setRates(options.rates);
    } catch (err) {
      await sandbox.close();
      throw err;
    }
    sandbox.log?.info({ url }, 'fulfilment sandbox listening');
    return sandbox;
  }

  /** POSTs /fulfilments received with a valid key and body, answered or not: how often the service was called, not only what it fulfilled. */
  get requests(): number {
    return this.requestCount;
  }

  /** Keys refused (422 fulfilment_refused); their replays are not counted again. */
  get refusals(): number {
    return this.refusalCount;
  }

  /** The sandbox's own log: one entry per order fulfilled, in order, however many times its key was replayed. */
  get fulfilments(): readonly FulfilmentRecord[] {
    return this.records;
  }

  /** Replaces every rate; a rate not given becomes 0. */
  setRates(rates: FulfilmentSandboxRates): void {
    this.rates = checkedRates(rates);
  }

  setLatency(latencyMs: Latency): void {
    this.latency = checkedLatency(latencyMs);
  }

  /** Stops at once: held "timeouts" and keep-alive connections are destroyed, so closing never hangs. */
  async close(): Promise<void> {
    this.timers.clear();
    // The requests in their latency wait never finish now: their keys would stay marked.
    this.inFlight.clear();
    await closeServer(this.server, this.sockets);
  }

  private settings(): FulfilmentSandboxSettings {
    return { latencyMs: this.latency, rates: { ...this.rates } };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    if (path === '/fulfilments') {
      if (req.method === 'POST') return this.postFulfilment(req, res);
      if (req.method === 'GET') {
        const orderId = new URLSearchParams(query).get('orderId');
        return send(res, 200, { data: orderId === null ? this.records : this.records.filter((r) => r.orderId === orderId) });
      }
      return notAllowed(res, 'GET, POST');
    }
    if (path === '/settings') {
      if (req.method === 'GET') return send(res, 200, this.settings());
      if (req.method === 'PUT') {
        const { latencyMs, rates } = validSettings(await readJson(req));
        // Both checked before either is applied: a rejected PUT changes nothing.
        if (latencyMs !== undefined) this.latency = latencyMs;
        if (rates !== undefined) this.rates = rates;
        this.log?.info(this.settings(), 'fulfilment sandbox settings changed');
        return send(res, 200, this.settings());
      }
      return notAllowed(res, 'GET, PUT');
    }
    send(res, 404, errorBody('not_found', `no route ${req.method} ${path}`));
  }

  /**
   * The idempotent part: refuse a key already in flight, wait the latency, inject a failure, answer from the key's
   * stored answer or decide one (and store it), send it or go silent.
   */
  private async postFulfilment(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const key = idempotencyKey(req);
    const body = validFulfilment(await readJson(req));
    this.requestCount++;
    if (this.inFlight.has(key)) {
      this.log?.debug({ key, orderId: body.orderId }, 'fulfilment sandbox: key in use');
      res.setHeader('retry-after', '1');
      return send(res, 409, errorBody('idempotency_key_in_use', 'a fulfilment request with this Idempotency-Key is still being processed; retry later'));
    }
    // Only a key without an answer yet is marked: replays of a stored answer cannot change anything, so they may overlap.
    const mark = !this.answers.has(key);
    if (mark) this.inFlight.add(key);
    try {
      await this.wait();
      // Replays draw failure and timeout too, as at the payment sandbox: a real service can fail a replay as well.
      if (this.draw(this.rates.failure)) {
        this.log?.debug({ key, orderId: body.orderId }, 'fulfilment sandbox: injected 503');
        return send(res, 503, errorBody('server_error', 'injected server error'));
      }
      const { status, body: answer } = this.answers.get(key) ?? this.decide(body, key);
      const timeout = this.draw(this.rates.timeout);
      this.log?.debug({ key, orderId: body.orderId, status, timeout }, 'fulfilment sandbox: answered');
      if (!timeout) return send(res, status, answer);
      // Done and its answer stored, but the client never hears it: its retry with the key must get this answer.
      holdUnanswered(req, res, this.timers, this.timeoutHoldMs);
    } finally {
      // However the request ended (answered, 503, silent, thrown), its key's answer is stored or it never will be.
      if (mark) this.inFlight.delete(key);
    }
  }

  /** The first answer for a key: a refusal when drawn, else the order fulfilled; stored either way. */
  private decide(body: FulfilmentBody, idempotencyKey: string): Answered {
    let answer: Answered;
    if (this.draw(this.rates.refuse)) {
      this.refusalCount++;
      answer = { status: 422, body: errorBody('fulfilment_refused', `order ${body.orderId} cannot be fulfilled`) };
    } else {
      const record: FulfilmentRecord = Object.freeze({
        id: `ff_${randomUUID().replaceAll('-', '')}`,
        idempotencyKey,
        ...body,
        createdAt: new Date().toISOString(),
      });
      this.records.push(record);
      answer = { status: 201, body: { id: record.id, orderId: record.orderId, status: 'fulfilled' } };
    }
    // Stored answers are handed out again and again: freezing them keeps one caller from changing another's answer.
    Object.freeze(answer.body);
    this.answers.set(idempotencyKey, Object.freeze(answer));
    return answer;
  }

  private wait(): Promise<void> {
    return this.timers.wait(drawLatency(this.latency, this.random));
  }

  private draw(rate: number): boolean {
    return chance(rate, this.random);
  }
}

/** Every rate between 0 and 1, 0 where not given; throws RangeError naming the first that is not. */
function checkedRates(rates: FulfilmentSandboxRates): Required<FulfilmentSandboxRates> {
  return checkedRatesOf(rates, RATE_NAMES);
}

// Checked by hand, as the payment sandbox does: the sandbox has no dependencies beyond node.
function validFulfilment(body: unknown): FulfilmentBody {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (!nonEmpty(b.orderId)) problems.push('orderId must be a non-empty string');
  if (!nonEmpty(b.customerId)) problems.push('customerId must be a non-empty string');
  if (!(typeof b.amount === 'string' && /^\d+\.\d{2}$/.test(b.amount))) problems.push('amount must be a decimal string with two places, such as "12.50"');
  if (!(typeof b.currency === 'string' && /^[A-Z]{3}$/.test(b.currency))) problems.push('currency must be an ISO 4217 code such as EUR');
  if (problems.length) throw new HttpError(400, 'invalid_request', problems.join('; '));
  return { orderId: b.orderId as string, customerId: b.customerId as string, amount: b.amount as string, currency: b.currency as string };
}

/** `{ latencyMs?, rates? }`, each checked as setLatency and setRates check it; unknown fields and rate names are refused, so a typo is not silently ignored. */
function validSettings(body: unknown): { latencyMs?: Latency; rates?: Required<FulfilmentSandboxRates> } {
  const shape = 'settings are { latencyMs?: ms or [min, max], rates?: { failure?, timeout?, refuse? } each between 0 and 1 }';
  const { latencyMs, rates } = knownFields(body, ['latencyMs', 'rates'], shape);
  if (rates !== undefined) knownFields(rates, RATE_NAMES, shape);
  return orInvalidRequest(() => ({
    latencyMs: latencyMs === undefined ? undefined : checkedLatency(latencyMs as Latency),
    rates: rates === undefined ? undefined : checkedRates(rates as FulfilmentSandboxRates),
  }));
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

// Run directly (`npm run sandbox:fulfilment`): a sandbox on PORT (default 4020), slow and failing now and then, as a
// real service would be. No top-level await: mocha loads test files that import this module through require.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void runStandalone().catch((err: unknown) => {
    console.error('fulfilment sandbox could not start:', err);
    process.exit(1);
  });
}

async function runStandalone(): Promise<void> {
  const sandbox = await FulfilmentSandbox.start({ port: Number(process.env.PORT || 4020), latencyMs: [200, 1000], rates: { failure: 0.1 } });
  console.log(
    `fulfilment sandbox listening on ${sandbox.url} (200–1000 ms latency, 10% of requests fail); to refuse every order: ` +
      `curl -X PUT ${sandbox.url}/settings -H 'content-type: application/json' -d '{"rates":{"refuse":1}}'`,
  );
  const stop = () => void sandbox.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
