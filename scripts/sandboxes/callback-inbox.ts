// The development callback inbox: somewhere to point a callbackUrl at, which keeps the Standard Webhooks callbacks Antaeus posts, checks their signatures, and shows them at GET /callbacks.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { closeServer, errorBody, HttpError, listen, notAllowed, requestHandler, send, Timers, type SandboxLog } from './http-kit.js';

export interface CallbackInboxOptions {
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /**
   * The `whsec_` secrets callbacks may be signed with (a client's current and, during a rotation, previous secret);
   * read for each callback received, so a rotation is seen at once. Without it, callbacks are kept unverified
   * (`verified: null`).
   * @defaultValue no verification
   */
  secrets?: () => Promise<string[]>;
  /** Largest body kept; a larger one is answered 413 and not kept. @defaultValue 2 MiB (a collection callback carries up to 1 MB of provider data) */
  maxBodyBytes?: number;
  /** How many callbacks are kept in memory: past it, the oldest are dropped. @defaultValue 1000 */
  keep?: number;
  /** @defaultValue no logging */
  log?: SandboxLog;
}

/** One callback as it arrived. */
export interface ReceivedCallback {
  /** Its webhook-id header: the same on every attempt to deliver one message. Null without one. */
  readonly webhookId: string | null;
  /** ISO 8601, when its body had arrived in full. */
  readonly receivedAt: string;
  /** The path it was posted to, without the query, e.g. `/hooks/demo`. */
  readonly path: string;
  /** `body.type` when the body is a JSON object with a string `type`, e.g. `collection.succeeded`; else null. */
  readonly type: string | null;
  readonly headers: { 'webhook-id': string | null; 'webhook-timestamp': string | null; 'webhook-signature': string | null };
  /** The body parsed as JSON, or its text when it is not JSON. */
  readonly body: unknown;
  /** true: one of the secrets verifies it; false: none does, or a signature header is missing; null: no `secrets` option. */
  readonly verified: boolean | null;
}

/** What GET /callbacks answers when no `limit` is given, and the most it answers. */
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/** How long `secrets()` may take: callbacks are recorded in arrival order, so one read that hangs would hold up every later one. */
const SECRETS_TIMEOUT_MS = 5000;

export class CallbackInbox {
  /** Oldest first; at most `keep`. */
  private readonly kept: ReceivedCallback[] = [];
  private readonly timers = new Timers();
  // Each callback is recorded after the one that arrived before it, however long each one's secrets took to read.
  private lastRecorded: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
    /** The base URL, e.g. `http://127.0.0.1:4040`; callbacks go to {@link hookUrl}. */
    readonly url: string,
    private readonly secrets: (() => Promise<string[]>) | undefined,
    private readonly maxBodyBytes: number,
    private readonly keep: number,
    private readonly log: SandboxLog | undefined,
  ) {
    server.on('request', requestHandler((req, res) => this.route(req, res), log, 'callback inbox'));
  }

  static async start(options: CallbackInboxOptions = {}): Promise<CallbackInbox> {
    // Checked before listening: a mistake then leaves no server behind.
    const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes ?? 2 * 1024 * 1024);
    const keep = positiveInteger('keep', options.keep ?? 1000);
    const { server, sockets, url } = await listen(options);
    const inbox = new CallbackInbox(server, sockets, url, options.secrets, maxBodyBytes, keep, options.log);
    inbox.log?.info({ url, verifying: options.secrets !== undefined }, 'callback inbox listening');
    return inbox;
  }

  /** A URL to give as callbackUrl: `${url}/hooks`, or `${url}${path}` for a path under /hooks, e.g. '/hooks/demo'. */
  hookUrl(path = '/hooks'): string {
    if (!isHookPath(path)) throw new RangeError(`a callback path is /hooks or starts with /hooks/, got ${JSON.stringify(path)}`);
    return `${this.url}${path}`;
  }

  /** The callbacks kept, in arrival order, oldest first: a copy, which does not change as more arrive or the oldest are dropped. */
  get received(): readonly ReceivedCallback[] {
    return this.kept.slice();
  }

  /** Stops at once: keep-alive connections and requests in progress are destroyed, so closing never hangs. Closing twice is harmless. */
  async close(): Promise<void> {
    this.timers.clear();
    await closeServer(this.server, this.sockets);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    if (isHookPath(path)) {
      if (req.method !== 'POST') return notAllowed(res, 'POST');
      await this.receive(path, req);
      // 204 even when the signature does not verify: the inbox is for looking at what Antaeus sends, and a 4xx would
      // make Antaeus give the message up for good (only 408 and 429 are retried), hiding the retries one came to see.
      if (!res.headersSent && !res.destroyed) res.writeHead(204).end();
      return;
    }
    if (path === '/callbacks') {
      if (req.method !== 'GET') return notAllowed(res, 'GET');
      return send(res, 200, { data: this.newestFirst(new URLSearchParams(query)) });
    }
    send(res, 404, errorBody('not_found', `no route ${req.method} ${path}; callbacks go to POST /hooks or /hooks/<anything>, and are read at GET /callbacks`));
  }

  private async receive(path: string, req: IncomingMessage): Promise<void> {
    const raw = (await readBody(req, this.maxBodyBytes)).toString('utf8');
    const receivedAt = new Date().toISOString();
    const headers = { 'webhook-id': header(req, 'webhook-id'), 'webhook-timestamp': header(req, 'webhook-timestamp'), 'webhook-signature': header(req, 'webhook-signature') };
    const body = parsed(raw);
    const type = typeof body === 'object' && body !== null && !Array.isArray(body) && typeof (body as { type?: unknown }).type === 'string' ? (body as { type: string }).type : null;
    // Started now, so callbacks arriving together are verified together; only their recording waits its turn.
    const verified = this.verify(raw, headers);
    const recorded = this.lastRecorded.then(async () => {
      const callback: ReceivedCallback = Object.freeze({ webhookId: headers['webhook-id'], receivedAt, path, type, headers: Object.freeze(headers), body, verified: await verified });
      this.kept.push(callback);
      if (this.kept.length > this.keep) this.kept.splice(0, this.kept.length - this.keep);
      this.log?.info({ webhookId: callback.webhookId, path, type, verified: callback.verified }, 'callback inbox: callback received');
    });
    this.lastRecorded = recorded.catch(() => undefined);
    await recorded;
  }

  /** Never rejects: a failure to read the secrets is a callback that could not be verified, not one lost. */
  private async verify(raw: string, headers: ReceivedCallback['headers']): Promise<boolean | null> {
    if (!this.secrets) return null;
    if (SIGNATURE_HEADERS.some((name) => headers[name] === null)) {
      this.log?.debug({ webhookId: headers['webhook-id'] }, 'callback inbox: not verified, a signature header is missing');
      return false;
    }
    let secrets: string[];
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = this.timers.later(() => reject(new Error(`secrets() did not answer within ${SECRETS_TIMEOUT_MS} ms`)), SECRETS_TIMEOUT_MS);
      });
      secrets = await Promise.race([this.secrets(), timedOut]);
      if (!Array.isArray(secrets)) throw new TypeError(`secrets() must resolve to an array of whsec_ secrets, got ${typeof secrets}`);
    } catch (err) {
      this.log?.warn({ err, webhookId: headers['webhook-id'] }, 'callback inbox: could not read the secrets; callback kept as not verified');
      return false;
    } finally {
      if (timer) this.timers.cancel(timer);
    }
    const reasons: string[] = [];
    for (const secret of secrets) {
      try {
        // jsonParse off: a signed body that is not JSON is still signed; what it holds is not the inbox's to judge.
        new Webhook(secret).verify(raw, headers as Record<string, string>, { jsonParse: false });
        return true;
      } catch (err) {
        // A malformed secret throws here too, and is one that verifies nothing.
        reasons.push((err as Error).message);
      }
    }
    this.log?.debug({ webhookId: headers['webhook-id'], reasons }, 'callback inbox: no secret verifies the callback');
    return false;
  }

  /** GET /callbacks: newest first, of `type` when given, at most `limit` (1..500, 50 by default). */
  private newestFirst(params: URLSearchParams): ReceivedCallback[] {
    const limitParam = params.get('limit');
    const limit = limitParam === null ? DEFAULT_LIMIT : /^[0-9]{1,3}$/.test(limitParam) ? Number(limitParam) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) throw new HttpError(400, 'invalid_request', `limit must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limitParam)}`);
    const type = params.get('type');
    const found: ReceivedCallback[] = [];
    for (let i = this.kept.length - 1; i >= 0 && found.length < limit; i--) {
      const callback = this.kept[i]!;
      if (type === null || callback.type === type) found.push(callback);
    }
    return found;
  }
}

function isHookPath(path: string): boolean {
  return path === '/hooks' || path.startsWith('/hooks/');
}

function positiveInteger(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value >= 1)) throw new RangeError(`${name} must be a whole number ≥ 1, got ${JSON.stringify(value)}`);
  return value;
}

/** A header's value, null without one. */
function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

function parsed(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * The whole body, as bytes. Past `maxBytes` it throws HttpError 413 payload_too_large at once, before reading the
 * rest when the content-length announces it: what still arrives is discarded, not kept, while the connection stays
 * usable. (Not readJson: the inbox keeps bodies that are not JSON, and needs the exact bytes that were signed.)
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, 'payload_too_large', `body larger than ${maxBytes} bytes`);
  if (Number(req.headers['content-length']) > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  // Events rather than for await: leaving a for await early destroys the request, and the 413 with it.
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      chunks.length = 0;
      fail(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => done(Buffer.concat(chunks)));
    // A client that goes away mid-body ('error' aborted, or only 'close'): nothing to keep, no one to answer (send does
    // nothing on a closed connection), and nothing worth the warning an unexpected error is logged with.
    const cutOff = () => fail(new HttpError(400, 'invalid_request', 'the body did not arrive in full'));
    req.once('error', cutOff);
    req.once('close', () => {
      if (!req.complete) cutOff();
    });
  });
}

// Run directly (`node --import tsx scripts/sandboxes/callback-inbox.ts`): an inbox on PORT (default 4040) that keeps
// every callback without checking signatures, having no client's secrets. No top-level await: mocha loads test files
// that import this module through require.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void runStandalone().catch((err: unknown) => {
    console.error('callback inbox could not start:', err);
    process.exit(1);
  });
}

async function runStandalone(): Promise<void> {
  const inbox = await CallbackInbox.start({ port: Number(process.env.PORT || 4040) });
  console.log(
    `callback inbox listening on ${inbox.url}: point callbackUrl at ${inbox.hookUrl()} (or any path under it, e.g. ${inbox.hookUrl('/hooks/demo')}), ` +
      `and read what arrived, newest first, at ${inbox.url}/callbacks (?type=collection.succeeded&limit=10 to narrow it); ` +
      `signatures are not checked when run on its own (verified: null)`,
  );
  const stop = () => void inbox.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
