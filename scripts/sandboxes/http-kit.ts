// The node:http plumbing the development sandboxes share: listening and closing without hanging, JSON in and out, the `{ error: { code, message } }` answers, latency and rate draws, timers a close can cancel.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A fixed latency in ms, or `[min, max]` for a uniformly random one. */
export type Latency = number | readonly [number, number];

/** What a sandbox logs to; a pino logger fits. */
export interface SandboxLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** The largest request body {@link readJson} reads unless told otherwise: a sandbox's requests are small, and a test of a too large one should not need megabytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The codes a refusal of the request itself is answered with. */
export type HttpErrorCode = 'invalid_request' | 'payload_too_large';

/** A refusal of the request itself, answered as `{ error: { code, message } }` by {@link requestHandler}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ListenOptions {
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
}

/** A server listening, with no 'request' listener yet. */
export interface Listening {
  readonly server: Server;
  /** Its open connections, kept so that {@link closeServer} can destroy them: keep-alive and held ones would otherwise keep it open. */
  readonly sockets: Set<Socket>;
  /** Its base URL, e.g. `http://127.0.0.1:4010`, an IPv6 host in brackets. */
  readonly url: string;
}

/** Starts a node:http server and resolves once it listens; rejects if it cannot (the port is taken, say). */
export async function listen(options: ListenOptions = {}): Promise<Listening> {
  const sockets = new Set<Socket>();
  const server = createServer();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return { server, sockets, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/**
 * Stops the server at once: every connection, keep-alive or held, is destroyed rather than waited for, so this never
 * hangs. Closing twice is harmless. Cancel the sandbox's timers first, or they fire into destroyed sockets.
 */
export async function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  // The callback gets an error when the server was not listening (closed already): closed all the same.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  for (const socket of sockets) socket.destroy();
  await closed;
}

/**
 * A 'request' listener that runs `route`: an {@link HttpError} it throws is answered as `{ error: { code, message } }`
 * with its status; anything else is logged (as "`name` failed a request") and answered 500 server_error.
 */
export function requestHandler(
  route: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  log: SandboxLog | undefined,
  name: string,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return send(res, err.status, errorBody(err.code, err.message));
      log?.warn({ err }, `${name} failed a request`);
      send(res, 500, errorBody('server_error', 'internal sandbox error'));
    });
  };
}

/** Answers `body` as JSON with a content-length; does nothing once an answer was started or the connection is gone. */
export function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** 405 method_not_allowed with the Allow header, e.g. `allow` = 'GET, POST'. */
export function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  send(res, 405, errorBody('method_not_allowed', `allowed: ${allow}`));
}

/** The Idempotency-Key header; a missing, empty or over-long one is refused with 400 invalid_request, as Stripe does. */
export function idempotencyKey(req: IncomingMessage): string {
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
    throw new HttpError(400, 'invalid_request', 'an Idempotency-Key header of 1 to 255 characters is required');
  }
  return key;
}

/**
 * The body parsed as JSON. Throws HttpError 413 payload_too_large as soon as more than `maxBytes` arrived (the rest
 * is not read), and 400 invalid_request when it is not JSON.
 */
export async function readJson(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, 'payload_too_large', `body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_request', 'the body is not JSON');
  }
}

/**
 * `body` as an object, when it is one (not an array, not null) and has no field outside `names`; else HttpError 400
 * invalid_request with `shape` as its message. For settings bodies: a typo must be refused, not silently ignored.
 */
export function knownFields(body: unknown, names: readonly string[], shape: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).some((name) => !names.includes(name))) {
    throw new HttpError(400, 'invalid_request', shape);
  }
  return body as Record<string, unknown>;
}

/** What `check` returns; a RangeError or TypeError it throws (a setting out of range) becomes HttpError 400 invalid_request with its message. */
export function orInvalidRequest<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof RangeError || err instanceof TypeError) throw new HttpError(400, 'invalid_request', err.message);
    throw err;
  }
}

/** A latency ≥ 0 ms, or `[min, max]` with 0 ≤ min ≤ max, finite (a range is copied); throws RangeError otherwise. */
export function checkedLatency(latencyMs: Latency): Latency {
  const [min, max] = typeof latencyMs === 'number' ? [latencyMs, latencyMs] : Array.isArray(latencyMs) && latencyMs.length === 2 ? latencyMs : [NaN, NaN];
  if (!(typeof min === 'number' && typeof max === 'number' && min >= 0 && max >= min && Number.isFinite(max))) {
    throw new RangeError(`latency must be ≥ 0 ms, or [min, max] with 0 ≤ min ≤ max; got ${JSON.stringify(latencyMs)}`);
  }
  return typeof latencyMs === 'number' ? latencyMs : [min, max];
}

/**
 * Every rate in `names` between 0 and 1, 0 where not given (fields outside `names` are dropped); throws RangeError
 * naming the first that is not.
 */
export function checkedRates<N extends string>(rates: Partial<Record<N, number>>, names: readonly N[]): Record<N, number> {
  // `=== undefined`, not `??`: a null rate in a PUT is a mistake to refuse, not a 0.
  const checked = Object.fromEntries(names.map((name) => [name, rates[name] === undefined ? 0 : rates[name]])) as Record<N, number>;
  for (const name of names) {
    const value: unknown = checked[name];
    // typeof too: a rate typed as a string in a PUT would otherwise compare as a number.
    if (!(typeof value === 'number' && value >= 0 && value <= 1)) throw new RangeError(`${name} rate must be between 0 and 1, got ${JSON.stringify(value)}`);
  }
  return checked;
}

/** The ms to wait this time: `random` is drawn only for a range, so a fixed latency leaves a test's planned draws alone. */
export function drawLatency(latency: Latency, random: () => number): number {
  return typeof latency === 'number' ? latency : latency[0] + random() * (latency[1] - latency[0]);
}

/** Whether an event of probability `rate` happens; `random` is drawn only when the rate is above 0. */
export function chance(rate: number, random: () => number): boolean {
  return rate > 0 && random() < rate;
}

/** A sandbox's pending timers, so that closing it cancels them all: nothing fires into a closed server or keeps the process up. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();

  /** Runs `run` after `ms`, unless cancelled or cleared first. */
  later(run: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      run();
    }, ms);
    this.pending.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.pending.delete(timer);
  }

  /** Resolves after `ms`; never, once cleared (the request waiting is dropped with its connection). */
  wait(ms: number): Promise<void> {
    // No timer at all for zero latency: the benchmark measures the contract, not the event loop's timer phase.
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.later(resolve, ms));
  }

  /** Cancels every pending timer. */
  clear(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}

/**
 * Never answers: the connection is held `holdMs`, then destroyed, as a provider that hangs does. The timer goes with
 * the connection if the client gives up first.
 */
export function holdUnanswered(req: IncomingMessage, res: ServerResponse, timers: Timers, holdMs: number): void {
  const timer = timers.later(() => req.socket.destroy(), holdMs);
  res.once('close', () => timers.cancel(timer));
}
