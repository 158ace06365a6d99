// The HTTP fulfilment client against the fulfilment sandbox and against raw servers: one fulfilment per key, refusals, lost answers, keys in use, Retry-After; and the sandbox's own routes.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { freePort } from '../../scripts/redis-server.js';
import { FulfilmentSandbox, type FulfilmentSandboxOptions } from '../../scripts/sandboxes/fulfilment-service.js';
import { FulfilmentRefusedError, FulfilmentUnavailableError, type FulfilmentRequest } from '../../shared/orders/fulfilment.js';
import { createHttpFulfilmentService } from '../../shared/orders/fulfilment-http.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { closedAfterEach, type Opened } from '../helpers/lifecycle.js';
import { runStandalone } from '../helpers/standalone.js';
import { waitFor } from '../helpers/wait.js';

const order = (orderId: string, overrides: Partial<FulfilmentRequest> = {}): FulfilmentRequest => ({
  orderId,
  customerId: 'cus_1',
  amountCents: 1250,
  currency: 'EUR',
  idempotencyKey: `fulfil-${orderId}`,
  ...overrides,
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (err: unknown) => err,
  );
}

/** The sandbox's draws, in order; one draw more than the test planned fails the request (500) rather than passing by chance. */
function draws(...values: number[]): () => number {
  return () => {
    const value = values.shift();
    if (value === undefined) throw new Error('the sandbox drew more random numbers than the test planned');
    return value;
  };
}

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw node:http server that records each request and lets `answer` reply, for what the sandbox never does. */
async function rawServer(opened: Opened, answer: (res: ServerResponse, req: IncomingMessage, n: number) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(res, req, seen.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  opened({
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('HTTP fulfilment service against the fulfilment sandbox', () => {
  const opened = closedAfterEach();
  const sandbox = async (options: FulfilmentSandboxOptions = {}) => opened(await FulfilmentSandbox.start(options));

  it('fulfils an order once per key: the same key gets the same answer, and the log has one entry', async () => {
    const server = await sandbox();
    const service = createHttpFulfilmentService({ baseUrl: server.url, timeoutMs: 5000 });
    const first = await service.fulfil(order('ord_1'));
    expect(first.id).to.match(/^ff_[0-9a-f]{32}$/);
    expect(await service.fulfil(order('ord_1'))).to.deep.equal(first);
    expect(server.requests).to.equal(2);
    expect(server.fulfilments).to.have.length(1);
    expect(server.fulfilments[0]).to.include({
      id: first.id,
      idempotencyKey: 'fulfil-ord_1',
      orderId: 'ord_1',
      customerId: 'cus_1',
      amount: '12.50',
      currency: 'EUR',
    });
    expect(Date.parse(server.fulfilments[0]!.createdAt)).to.be.closeTo(Date.now(), 5000);
    // Another key is another fulfilment, even for the same order: the key, not the order, is what makes it once.
    expect((await service.fulfil(order('ord_1', { idempotencyKey: 'fulfil-ord_1-again' }))).id).to.not.equal(first.id);
    expect(server.fulfilments).to.have.length(2);
  });

  it('throws FulfilmentRefusedError when the order is refused, and replays the refusal for the key', async () => {
    const server = await sandbox({ rates: { refuse: 1 } });
    const service = createHttpFulfilmentService({ baseUrl: server.url, timeoutMs: 5000 });
    const err = await rejection(service.fulfil(order('ord_1')));
    expect(err).to.be.instanceOf(FulfilmentRefusedError).and.include({ status: 422, code: 'fulfilment_refused' });
    expect(err).to.not.be.instanceOf(RetryableError);
    expect((err as Error).message).to.equal('fulfilment service refused the order with 422 fulfilment_refused: order ord_1 cannot be fulfilled');

    server.setRates({});
    const replay = await rejection(service.fulfil(order('ord_1')));
    expect(replay).to.be.instanceOf(FulfilmentRefusedError).and.include({ status: 422, code: 'fulfilment_refused' });
    expect(server.refusals).to.equal(1);
    expect(server.fulfilments).to.deep.equal([]);
    expect((await service.fulfil(order('ord_2'))).id).to.be.a('string');
  });

  it('throws FulfilmentUnavailableError on a 503, with nothing fulfilled, and the retry with the same key fulfils', async () => {
    const server = await sandbox({ rates: { failure: 0.5 }, random: draws(0.1, 0.9) });
    const service = createHttpFulfilmentService({ baseUrl: server.url, timeoutMs: 5000 });
    const err = await rejection(service.fulfil(order('ord_1')));
    expect(err).to.be.instanceOf(FulfilmentUnavailableError).and.include({ retryAfterMs: undefined });
    expect((err as Error).message).to.match(/^fulfilment service answered 503 server_error: \{"error"/);
    expect(server.fulfilments).to.deep.equal([]);
    // Nothing was stored for the key, so the retry is processed for real.
    expect((await service.fulfil(order('ord_1'))).id).to.equal(server.fulfilments[0]!.id);
    expect(server.fulfilments).to.have.length(1);
  });

  it('gives up after timeoutMs when the answer is lost after fulfilling, and the retry with the same key gets the stored fulfilment', async () => {
    // First request: the timeout draw hits (0.1); the retry's misses (0.9).
    const server = await sandbox({ rates: { timeout: 0.5 }, random: draws(0.1, 0.9), timeoutHoldMs: 5000 });
    const service = createHttpFulfilmentService({ baseUrl: server.url, timeoutMs: 150 });
    const started = Date.now();
    const err = await rejection(service.fulfil(order('ord_1')));
    expect(Date.now() - started).to.be.within(140, 2000);
    expect(err).to.be.instanceOf(FulfilmentUnavailableError);
    expect((err as Error).message).to.equal('fulfilment service gave no answer within 150 ms');
    // The sandbox fulfilled before it went silent: that is the case the key exists for.
    const [fulfilled] = server.fulfilments;
    expect(fulfilled).to.include({ orderId: 'ord_1', idempotencyKey: 'fulfil-ord_1' });

    expect(await service.fulfil(order('ord_1'))).to.deep.equal({ id: fulfilled!.id });
    expect(server.fulfilments).to.have.length(1);
  });

  it('answers 409 idempotency_key_in_use while the key is in its latency wait, which the client reads as retryable with Retry-After', async () => {
    const server = await sandbox({ latencyMs: 300 });
    const service = createHttpFulfilmentService({ baseUrl: server.url, timeoutMs: 5000 });
    const first = service.fulfil(order('ord_1'));
    await waitFor(() => server.requests === 1, { what: 'the first request' });
    const busy = await rejection(service.fulfil(order('ord_1')));
    expect(busy).to.be.instanceOf(FulfilmentUnavailableError).and.include({ retryAfterMs: 1000 });
    expect((busy as Error).message).to.equal('fulfilment service is still processing a request with the idempotency key fulfil-ord_1; retry later');
    // Another key is not held up by it.
    const other = service.fulfil(order('ord_2'));
    const { id } = await first;
    expect(id).to.be.a('string').and.not.equal((await other).id);
    expect(await service.fulfil(order('ord_1'))).to.deep.equal({ id });
    expect(server.fulfilments.map((f) => f.orderId)).to.have.members(['ord_1', 'ord_2']);
  });

  it('closes at once while it holds a silent connection, and the client sees the connection drop', async () => {
    const server = await sandbox({ rates: { timeout: 1 } });
    const service = createHttpFulfilmentService({ baseUrl: server.url, timeoutMs: 10_000 });
    const pending = rejection(service.fulfil(order('ord_1')));
    await waitFor(() => server.fulfilments.length === 1, { what: 'the silent fulfilment' });
    const started = Date.now();
    await server.close();
    const err = await pending;
    expect(Date.now() - started).to.be.below(2000);
    expect(err).to.be.instanceOf(FulfilmentUnavailableError);
    expect((err as Error).message).to.match(/^fulfilment service unreachable: /);
  });

  it('is unavailable, saying so, when nothing listens', async () => {
    const service = createHttpFulfilmentService({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 5000 });
    const err = await rejection(service.fulfil(order('ord_1')));
    expect(err).to.be.instanceOf(FulfilmentUnavailableError);
    expect((err as Error).message).to.equal('fulfilment service unreachable: ECONNREFUSED');
  });

  it('works with a base URL that ends in a slash', async () => {
    const server = await sandbox();
    const service = createHttpFulfilmentService({ baseUrl: `${server.url}/`, timeoutMs: 5000 });
    expect((await service.fulfil(order('ord_1'))).id).to.equal(server.fulfilments[0]!.id);
  });
});

describe('HTTP fulfilment service against any server of the contract', () => {
  const opened = closedAfterEach();

  it('POSTs the order to /fulfilments with its Idempotency-Key, the amount as "12.50" for 1250 cents', async () => {
    const { url, seen } = await rawServer(opened, (res) =>
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'ff_1', orderId: 'ord_1', status: 'fulfilled' })),
    );
    const service = createHttpFulfilmentService({ baseUrl: `${url}/v1/`, timeoutMs: 5000 });
    expect(await service.fulfil(order('ord_1'))).to.deep.equal({ id: 'ff_1' });
    await service.fulfil(order('ord_2', { amountCents: 5, currency: 'USD' }));
    expect(seen[0]).to.include({ method: 'POST', url: '/v1/fulfilments' });
    expect(seen[0]!.headers).to.include({ 'idempotency-key': 'fulfil-ord_1', 'content-type': 'application/json' });
    expect(JSON.parse(seen[0]!.body)).to.deep.equal({ orderId: 'ord_1', customerId: 'cus_1', amount: '12.50', currency: 'EUR' });
    expect(JSON.parse(seen[1]!.body)).to.include({ amount: '0.05', currency: 'USD' });
  });

  it('takes any 2xx as fulfilled, with a null id when the answer carries none', async () => {
    const answers = [
      [200, JSON.stringify({ orderId: 'ord_1', status: 'fulfilled' })],
      [202, ''],
      [201, '<html>ok</html>'],
    ] as const;
    const { url } = await rawServer(opened, (res, _req, n) => res.writeHead(answers[n - 1]![0]).end(answers[n - 1]![1]));
    const service = createHttpFulfilmentService({ baseUrl: url, timeoutMs: 5000 });
    for (const [i] of answers.entries()) expect(await service.fulfil(order(`ord_${i}`))).to.deep.equal({ id: null });
  });

  it('reads 429 and 503 with Retry-After, 408 and a redirect as unavailable, to retry with the same key', async () => {
    const answers: [number, Record<string, string>, string][] = [
      [429, { 'retry-after': '7' }, ''],
      [503, { 'retry-after': '2' }, 'x'.repeat(500)],
      [408, {}, 'request timeout'],
      [307, { location: 'http://127.0.0.1:1/elsewhere' }, ''],
      [409, { 'content-type': 'application/json', 'retry-after': '3' }, JSON.stringify({ error: { code: 'idempotency_key_in_use' } })],
    ];
    const { url, seen } = await rawServer(opened, (res, _req, n) => res.writeHead(answers[n - 1]![0], answers[n - 1]![1]).end(answers[n - 1]![2]));
    const service = createHttpFulfilmentService({ baseUrl: url, timeoutMs: 5000 });

    const limited = await rejection(service.fulfil(order('ord_1')));
    expect(limited).to.be.instanceOf(FulfilmentUnavailableError).and.include({ retryAfterMs: 7000 });
    expect((limited as Error).message).to.equal('fulfilment service answered 429');
    const down = await rejection(service.fulfil(order('ord_2')));
    expect(down).to.be.instanceOf(FulfilmentUnavailableError).and.include({ retryAfterMs: 2000 });
    expect((down as Error).message).to.equal(`fulfilment service answered 503: ${'x'.repeat(200)}…`);
    const slow = await rejection(service.fulfil(order('ord_3')));
    expect(slow).to.be.instanceOf(FulfilmentUnavailableError).and.include({ retryAfterMs: undefined });
    expect((slow as Error).message).to.equal('fulfilment service answered 408: request timeout');
    // Not followed: the order would go to an address nobody configured.
    expect(await rejection(service.fulfil(order('ord_4')))).to.be.instanceOf(FulfilmentUnavailableError);
    expect(await rejection(service.fulfil(order('ord_5')))).to.be.instanceOf(FulfilmentUnavailableError).and.include({ retryAfterMs: 3000 });
    expect(seen.map((s) => s.url)).to.deep.equal(Array(5).fill('/fulfilments'));
  });

  it('reads 400, 404, 422 and a 409 of another code as refused for good, with the status, the code and the message or the body', async () => {
    const json = (code: string, message?: string) => JSON.stringify({ error: { code, message } });
    const answers: [number, string][] = [
      [400, json('invalid_request', 'amount must be a decimal string')],
      [404, '<html><body>Not Found</body></html>'],
      [422, json('fulfilment_refused', 'out of stock')],
      [409, json('order_cancelled')],
      [401, json('unauthorized', 'y'.repeat(300))],
    ];
    const { url } = await rawServer(opened, (res, _req, n) => res.writeHead(answers[n - 1]![0], { 'content-type': 'application/json' }).end(answers[n - 1]![1]));
    const service = createHttpFulfilmentService({ baseUrl: url, timeoutMs: 5000 });
    const refused = async (orderId: string) => {
      const err = await rejection(service.fulfil(order(orderId)));
      expect(err).to.be.instanceOf(FulfilmentRefusedError);
      return err as FulfilmentRefusedError;
    };

    expect(await refused('ord_1')).to.include({
      status: 400,
      code: 'invalid_request',
      message: 'fulfilment service refused the order with 400 invalid_request: amount must be a decimal string',
    });
    // A wrong base URL answers a page, not the contract's error: no code, and the page tells what was there.
    expect(await refused('ord_2')).to.include({
      status: 404,
      code: undefined,
      message: 'fulfilment service refused the order with 404 (no error code): <html><body>Not Found</body></html>',
    });
    expect(await refused('ord_3')).to.include({ status: 422, code: 'fulfilment_refused' });
    const conflict = await refused('ord_4');
    expect(conflict).to.include({ status: 409, code: 'order_cancelled' });
    expect(conflict.message).to.match(/409 order_cancelled: \{"error":\{"code":"order_cancelled"\}\}$/);
    expect((await refused('ord_5')).message).to.equal(`fulfilment service refused the order with 401 unauthorized: ${'y'.repeat(200)}…`);
  });

  it('is unavailable when the answer is cut short mid-body', async () => {
    const { url } = await rawServer(opened, (res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"id":"ff_1",', () => res.destroy());
    });
    const service = createHttpFulfilmentService({ baseUrl: url, timeoutMs: 5000 });
    const err = await rejection(service.fulfil(order('ord_1')));
    expect(err).to.be.instanceOf(FulfilmentUnavailableError);
    expect((err as Error).message).to.match(/^fulfilment service answered 201 but the body was cut short: /);
  });

  it('counts reading the body in its timeout: headers and then silence are no answer', async () => {
    const { url } = await rawServer(opened, (res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"id":');
    });
    const service = createHttpFulfilmentService({ baseUrl: url, timeoutMs: 200 });
    const started = Date.now();
    const err = await rejection(service.fulfil(order('ord_1')));
    expect(Date.now() - started).to.be.within(190, 3000);
    expect(err).to.be.instanceOf(FulfilmentUnavailableError);
    expect((err as Error).message).to.equal('fulfilment service gave no answer within 200 ms');
  });
});

describe('fulfilment sandbox routes', () => {
  const opened = closedAfterEach();
  const sandbox = async (options: FulfilmentSandboxOptions = {}) => opened(await FulfilmentSandbox.start(options));

  async function call(server: FulfilmentSandbox, method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; headers: Headers; body: any }> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: key === undefined ? {} : { 'idempotency-key': key },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  }
  const valid = { orderId: 'ord_1', customerId: 'cus_1', amount: '12.50', currency: 'EUR' };

  it('answers every bad request as { error: { code, message } }: the key, the body, its size, the route, the method', async () => {
    const server = await sandbox();
    const codes = async (reply: ReturnType<typeof call>) => {
      const { status, body } = await reply;
      expect(body.error.message, JSON.stringify(body)).to.be.a('string').that.is.not.empty;
      return [status, body.error.code];
    };
    expect(await codes(call(server, 'POST', '/fulfilments', valid))).to.deep.equal([400, 'invalid_request']);
    expect(await codes(call(server, 'POST', '/fulfilments', valid, 'k'.repeat(256)))).to.deep.equal([400, 'invalid_request']);
    expect(await codes(call(server, 'POST', '/fulfilments', '{not json', 'k1'))).to.deep.equal([400, 'invalid_request']);
    for (const bad of [{ orderId: '' }, { customerId: 7 }, { amount: 12.5 }, { amount: '12.5' }, { amount: '-1.00' }, { currency: 'eur' }]) {
      expect(await codes(call(server, 'POST', '/fulfilments', { ...valid, ...bad }, 'k2')), JSON.stringify(bad)).to.deep.equal([400, 'invalid_request']);
    }
    const invalid = await call(server, 'POST', '/fulfilments', { ...valid, amount: 1250 }, 'k3');
    expect(invalid.body.error.message).to.match(/amount must be a decimal string/);
    expect(await codes(call(server, 'POST', '/fulfilments', { ...valid, pad: 'x'.repeat(70_000) }, 'k4'))).to.deep.equal([413, 'payload_too_large']);
    expect(await codes(call(server, 'POST', '/v2/fulfilments', valid, 'k5'))).to.deep.equal([404, 'not_found']);
    const wrongMethod = await call(server, 'DELETE', '/fulfilments');
    expect([wrongMethod.status, wrongMethod.body.error.code, wrongMethod.headers.get('allow')]).to.deep.equal([405, 'method_not_allowed', 'GET, POST']);
    expect((await call(server, 'POST', '/settings', {})).headers.get('allow')).to.equal('GET, PUT');
    // None of them reached the processing: nothing counted, nothing fulfilled.
    expect([server.requests, server.fulfilments.length]).to.deep.equal([0, 0]);
  });

  it('answers 409 with Retry-After: 1 to a second request while the key is in flight', async () => {
    const server = await sandbox({ latencyMs: 300 });
    const first = call(server, 'POST', '/fulfilments', valid, 'k1');
    await waitFor(() => server.requests === 1, { what: 'the first request' });
    const busy = await call(server, 'POST', '/fulfilments', valid, 'k1');
    expect(busy.status).to.equal(409);
    expect(busy.headers.get('retry-after')).to.equal('1');
    expect(busy.body.error.code).to.equal('idempotency_key_in_use');
    const { status, body } = await first;
    expect(status).to.equal(201);
    expect(body).to.deep.equal({ id: server.fulfilments[0]!.id, orderId: 'ord_1', status: 'fulfilled' });
  });

  it('lists its log with GET /fulfilments, filtered by ?orderId=', async () => {
    const server = await sandbox();
    await call(server, 'POST', '/fulfilments', valid, 'k1');
    await call(server, 'POST', '/fulfilments', { ...valid, orderId: 'ord 2' }, 'k2');
    await call(server, 'POST', '/fulfilments', { ...valid, orderId: 'ord 2' }, 'k2');
    const all = await call(server, 'GET', '/fulfilments');
    expect(all.body).to.deep.equal({ data: server.fulfilments });
    expect(all.body.data.map((f: { orderId: string }) => f.orderId)).to.deep.equal(['ord_1', 'ord 2']);
    const filtered = await call(server, 'GET', '/fulfilments?orderId=ord%202');
    expect(filtered.body.data).to.have.length(1);
    expect(filtered.body.data[0]).to.include({ orderId: 'ord 2', idempotencyKey: 'k2', amount: '12.50' });
    expect((await call(server, 'GET', '/fulfilments?orderId=nobody')).body).to.deep.equal({ data: [] });
  });

  it('shows its settings with GET /settings and replaces them with PUT /settings, after which it refuses every order', async () => {
    const server = await sandbox({ latencyMs: [0, 5], rates: { failure: 0.2 }, random: () => 0.5 });
    expect((await call(server, 'GET', '/settings')).body).to.deep.equal({ latencyMs: [0, 5], rates: { failure: 0.2, timeout: 0, refuse: 0 } });

    const put = await call(server, 'PUT', '/settings', { rates: { refuse: 1 } });
    // Rates are replaced as a whole (failure is back to 0); the latency, not given, stays.
    expect(put).to.deep.include({ status: 200, body: { latencyMs: [0, 5], rates: { failure: 0, timeout: 0, refuse: 1 } } });
    const service = createHttpFulfilmentService({ baseUrl: server.url, timeoutMs: 5000 });
    for (const orderId of ['ord_1', 'ord_2']) {
      expect(await rejection(service.fulfil(order(orderId)))).to.be.instanceOf(FulfilmentRefusedError).and.include({ code: 'fulfilment_refused' });
    }
    expect([server.refusals, server.fulfilments.length]).to.deep.equal([2, 0]);

    expect((await call(server, 'PUT', '/settings', { latencyMs: 0, rates: {} })).body).to.deep.equal({ latencyMs: 0, rates: { failure: 0, timeout: 0, refuse: 0 } });
    expect((await service.fulfil(order('ord_3'))).id).to.be.a('string');
  });

  it('refuses settings that are not valid, and changes nothing then', async () => {
    const server = await sandbox({ latencyMs: 10 });
    for (const bad of [
      { rates: { refuse: 2 } },
      { rates: { refuse: '1' } },
      { rates: { refused: 1 } },
      { rates: [] },
      { latencyMs: -1 },
      { latencyMs: [5, 1] },
      { latencyMs: 0, rates: { failure: -0.1 } },
      { latency: 0 },
      [],
    ]) {
      const { status, body } = await call(server, 'PUT', '/settings', bad);
      expect([status, body.error.code], JSON.stringify(bad)).to.deep.equal([400, 'invalid_request']);
    }
    expect((await call(server, 'GET', '/settings')).body).to.deep.equal({ latencyMs: 10, rates: { failure: 0, timeout: 0, refuse: 0 } });
    expect(() => server.setRates({ timeout: 1.5 })).to.throw(RangeError, /timeout rate/);
    expect(() => server.setLatency([3, 2])).to.throw(RangeError);
  });

  it('runs on its own as `npm run sandbox:fulfilment`: one line with its URL and how to make it refuse, and exit 0 on SIGTERM', async () => {
    const { line, stop } = await runStandalone('scripts/sandboxes/fulfilment-service.ts', opened);
    const url = /listening on (http:\/\/\S+) /.exec(line)?.[1];
    expect(url, line).to.be.a('string');
    expect(line).to.include(`curl -X PUT ${url}/settings -H 'content-type: application/json' -d '{"rates":{"refuse":1}}'`);
    expect(await (await fetch(`${url}/settings`)).json()).to.deep.equal({ latencyMs: [200, 1000], rates: { failure: 0.1, timeout: 0, refuse: 0 } });
    expect(await stop()).to.deep.equal([0, null]);
  });
});
