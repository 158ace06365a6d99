// The development payment provider: the provider contract (charges, refunds, the ledger) over plain node:http, on an in-memory ledger, with latency and failures on demand.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  chance,
  checkedLatency,
  closeServer,
  drawLatency,
  errorBody,
  holdUnanswered,
  HttpError,
  idempotencyKey,
  listen,
  notAllowed,
  readJson,
  requestHandler,
  send,
  Timers,
  type Latency,
  type SandboxLog,
} from './http-kit.js';
import { SandboxLedger, type ChargeBody, type RefundBody, type SandboxAccount, type SandboxLedgerRates } from './payment-ledger.js';

/** Each 0..1, drawn per charge or refund with a new or known key alike (not for one refused as idempotency_key_in_use). */
export interface PaymentSandboxRates extends SandboxLedgerRates {
  /** Process the charge or refund, then never answer: the socket is held and destroyed after `timeoutHoldMs`. @defaultValue 0 */
  timeout?: number;
  /** Answer 503 server_error before processing: nothing charged or refunded, nothing stored for the key. @defaultValue 0 */
  serverError?: number;
}

// Kept exported from here, where they were first defined, for code that imports them from this module.
export type { Latency, SandboxLog } from './http-kit.js';

export interface PaymentSandboxOptions {
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** The books to serve; pass one to read or script it from a test. @defaultValue a new SandboxLedger using `random` */
  ledger?: SandboxLedger;
  /** Accounts to open at start, by customer id. @defaultValue none */
  accounts?: Record<string, SandboxAccount>;
  /** Wait before each charge or refund is processed; its key is in flight meanwhile. @defaultValue 0 */
  latencyMs?: Latency;
  /** Failures and forced outcomes; the forced outcomes are set on the ledger. @defaultValue every rate 0 */
  rates?: PaymentSandboxRates;
  /**
   * Returns [0, 1). Per charge or refund it is drawn for a latency range, then serverError, then timeout (each only
   * when its rate is above 0), then, for a charge, by a ledger made here for its forced outcomes.
   * @defaultValue Math.random
   */
  random?: () => number;
  /**
   * A key's stored answer is forgotten once it is this old (ms), and the key charges or refunds again, as Stripe does
   * after 24 hours; set on the ledger, given or made here. The ledgers are never forgotten.
   * @defaultValue undefined: the ledger's own setting, which is to keep answers forever
   */
  forgetKeysAfterMs?: number;
  /** How long a "timeout" holds the connection before destroying it. @defaultValue 30000 */
  timeoutHoldMs?: number;
  /** @defaultValue no logging */
  log?: SandboxLog;
}

/** What the ledger answers to a charge or a refund: a status and its body, stored for the key. */
interface Answered {
  readonly status: number;
  readonly body: unknown;
}

export class PaymentSandbox {
  private readonly timers = new Timers();
  private latency: Latency = 0;
  private rates = { timeout: 0, serverError: 0 };
  /** Charge requests received, answered or not: what tells a test how often the provider was called, not only what it charged. */
  chargeRequests = 0;
  /** Refund requests received, answered or not. */
  refundRequests = 0;
  // Keys whose first request is being processed (in its latency wait): a second request with one gets 409
  // idempotency_key_in_use, as at Stripe. Charges and refunds keep their keys apart, as their stored answers are.
  private readonly chargesInFlight = new Set<string>();
  private readonly refundsInFlight = new Set<string>();

  private constructor(
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
    /** The base URL a payment provider client is given, e.g. `http://127.0.0.1:4010`. */
    readonly url: string,
    readonly ledger: SandboxLedger,
    private readonly random: () => number,
    private readonly timeoutHoldMs: number,
    private readonly log: SandboxLog | undefined,
  ) {
    server.on('request', requestHandler((req, res) => this.route(req, res), log, 'payment sandbox'));
  }

  static async start(options: PaymentSandboxOptions = {}): Promise<PaymentSandbox> {
    const random = options.random ?? Math.random;
    const ledger = options.ledger ?? new SandboxLedger({ random });
    if (options.forgetKeysAfterMs !== undefined) ledger.forgetKeysAfter(options.forgetKeysAfterMs);
    for (const [customerId, account] of Object.entries(options.accounts ?? {})) ledger.setAccount(customerId, account);
    const { server, sockets, url } = await listen(options);
    const sandbox = new PaymentSandbox(server, sockets, url, ledger, random, options.timeoutHoldMs ?? 30_000, options.log);
    try {
      sandbox.setLatency(options.latencyMs ?? 0);
      if (options.rates) sandbox.setRates(options.rates);
    } catch (err) {
      await sandbox.close();
      throw err;
    }
    sandbox.log?.info({ url }, 'payment sandbox listening');
    return sandbox;
  }

  /** Replaces every rate, the ledger's forced outcomes included; a rate not given becomes 0. */
  setRates(rates: PaymentSandboxRates): void {
    const { timeout = 0, serverError = 0, ...forced } = rates;
    for (const [name, value] of Object.entries({ timeout, serverError })) {
      if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} rate must be between 0 and 1, got ${value}`);
    }
    this.ledger.setRates(forced);
    this.rates = { timeout, serverError };
  }

  setLatency(latencyMs: Latency): void {
    this.latency = checkedLatency(latencyMs);
  }

  /** From now on a stored answer is forgotten once it is `ms` old; undefined keeps answers forever. See {@link SandboxLedger.forgetKeysAfter}. */
  forgetKeysAfter(ms: number | undefined): void {
    this.ledger.forgetKeysAfter(ms);
  }

  /** Forgets every stored answer at once, as if 24 hours had passed: each key charges or refunds again. The ledgers stay. */
  forgetKeys(): void {
    this.ledger.forgetKeys();
  }

  /** Stops at once: held "timeouts" and keep-alive connections are destroyed, so closing never hangs. */
  async close(): Promise<void> {
    this.timers.clear();
    // The requests in their latency wait never finish now: their keys would stay marked.
    this.chargesInFlight.clear();
    this.refundsInFlight.clear();
    await closeServer(this.server, this.sockets);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    if (path === '/charges') {
      if (req.method === 'POST') return this.postCharge(req, res);
      // Each charge with what was refunded of it (`refunded`, `refunds`): how a client sees a refund whose answer it lost.
      if (req.method === 'GET') return send(res, 200, { data: this.ledger.entries({ reference: referenceIn(query) }) });
      return notAllowed(res, 'GET, POST');
    }
    if (path === '/refunds') {
      if (req.method === 'POST') return this.postRefund(req, res);
      if (req.method === 'GET') return send(res, 200, { data: this.ledger.refunds({ reference: referenceIn(query) }) });
      return notAllowed(res, 'GET, POST');
    }
    const account = /^\/accounts\/([^/]+)$/.exec(path);
    if (account) {
      const customerId = decode(account[1]!);
      if (req.method === 'GET') {
        const found = this.ledger.getAccount(customerId);
        return found ? send(res, 200, found) : send(res, 404, errorBody('customer_not_found', `no account for customer ${customerId}`));
      }
      if (req.method === 'PUT') {
        const body = validAccount(await readJson(req));
        this.ledger.setAccount(customerId, body);
        return send(res, 200, this.ledger.getAccount(customerId));
      }
      return notAllowed(res, 'GET, PUT');
    }
    // Not customer_not_found: a client that got its base URL wrong must not read this as a missing account.
    send(res, 404, errorBody('not_found', `no route ${req.method} ${path}`));
  }

  private async postCharge(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const key = idempotencyKey(req);
    const body = validCharge(await readJson(req));
    this.chargeRequests++;
    const answered = this.ledger.hasChargeAnswer(key);
    await this.process(req, res, { key, answered, inFlight: this.chargesInFlight, what: 'charge', reference: body.reference }, () => this.ledger.charge(body, key));
  }

  private async postRefund(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const key = idempotencyKey(req);
    const body = validRefund(await readJson(req));
    this.refundRequests++;
    const answered = this.ledger.hasRefundAnswer(key);
    await this.process(req, res, { key, answered, inFlight: this.refundsInFlight, what: 'refund', reference: body.reference }, () => this.ledger.refund(body, key));
  }

  /**
   * The idempotent part of a charge or a refund: refuse a key already in flight, wait the latency, inject a failure,
   * let the ledger answer (and store the answer for the key), send it or go silent.
   */
  private async process(
    req: IncomingMessage,
    res: ServerResponse,
    call: { key: string; answered: boolean; inFlight: Set<string>; what: 'charge' | 'refund'; reference: string },
    answer: () => Answered,
  ): Promise<void> {
    const { key, inFlight, what, reference } = call;
    if (inFlight.has(key)) {
      this.log?.debug({ key, reference }, `payment sandbox: ${what} key in use`);
      return send(res, 409, errorBody('idempotency_key_in_use', `a ${what} request with this Idempotency-Key is still being processed; retry later`));
    }
    // Only a key without an answer yet is marked: replays of a stored answer cannot change anything, so they may overlap.
    const mark = !call.answered;
    if (mark) inFlight.add(key);
    try {
      await this.wait();
      if (this.draw(this.rates.serverError)) {
        this.log?.debug({ key, reference }, `payment sandbox: injected 503 on a ${what}`);
        return send(res, 503, errorBody('server_error', 'injected server error'));
      }
      const timeout = this.draw(this.rates.timeout);
      const { status, body } = answer();
      this.log?.debug({ key, reference, status, timeout }, `payment sandbox: ${what}`);
      if (!timeout) return send(res, status, body);
      // Made and its answer stored, but the client never hears it: its retry with the key must get this answer.
      holdUnanswered(req, res, this.timers, this.timeoutHoldMs);
    } finally {
      // However the request ended (answered, 503, silent, thrown), its key's answer is stored or it never will be.
      if (mark) inFlight.delete(key);
    }
  }

  private wait(): Promise<void> {
    return this.timers.wait(drawLatency(this.latency, this.random));
  }

  private draw(rate: number): boolean {
    return chance(rate, this.random);
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'invalid_request', 'malformed customer id in the path');
  }
}

function referenceIn(query: string): string | undefined {
  return new URLSearchParams(query).get('reference') ?? undefined;
}

// Checked by hand rather than with a schema library: this runs once per charge in benchmarks of 100,000 charges.
function validCharge(body: unknown): ChargeBody {
  const b = (body ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (!nonEmpty(b.customerId)) problems.push('customerId must be a non-empty string');
  if (!(Number.isSafeInteger(b.amount) && (b.amount as number) > 0)) problems.push('amount must be a positive integer in minor units');
  if (!isCurrency(b.currency)) problems.push('currency must be an ISO 4217 code such as EUR');
  if (!nonEmpty(b.reference)) problems.push('reference must be a non-empty string');
  if (problems.length) throw new HttpError(400, 'invalid_request', problems.join('; '));
  return { customerId: b.customerId as string, amount: b.amount as number, currency: b.currency as string, reference: b.reference as string };
}

function validRefund(body: unknown): RefundBody {
  const b = (body ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (!nonEmpty(b.chargeId)) problems.push('chargeId must be a non-empty string');
  if (!(Number.isSafeInteger(b.amount) && (b.amount as number) > 0)) problems.push('amount must be a positive integer in minor units');
  if (!nonEmpty(b.reference)) problems.push('reference must be a non-empty string');
  if (problems.length) throw new HttpError(400, 'invalid_request', problems.join('; '));
  return { chargeId: b.chargeId as string, amount: b.amount as number, reference: b.reference as string };
}

function validAccount(body: unknown): SandboxAccount {
  const b = (body ?? {}) as Record<string, unknown>;
  if (!Number.isSafeInteger(b.balance) || !isCurrency(b.currency)) {
    throw new HttpError(400, 'invalid_request', 'an account is { balance: integer in minor units, currency: ISO 4217 code }');
  }
  return { balance: b.balance as number, currency: b.currency as string };
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isCurrency(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Z]{3}$/.test(value);
}

// Run directly (`npm run sandbox:payments`): a sandbox on PORT (default 4010) with an account for each demo customer.
// No top-level await: mocha loads test files that import this module through require, which refuses it. The demo data
// is imported only here, so that importing the sandbox (tests, benchmarks) does not load the seed's database modules.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void runStandalone().catch((err: unknown) => {
    console.error('payment sandbox could not start:', err);
    process.exit(1);
  });
}

async function runStandalone(): Promise<void> {
  const { DEMO_ACCOUNTS } = await import('../demo-data.js');
  const sandbox = await PaymentSandbox.start({ port: Number(process.env.PORT || 4010), accounts: DEMO_ACCOUNTS });
  console.log(`payment sandbox listening on ${sandbox.url}, with accounts for ${Object.keys(DEMO_ACCOUNTS).join(', ')} (PUT /accounts/:customerId opens another)`);
  const stop = () => void sandbox.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
