// The data-provider sandbox as a spec: the gas and internet bills, failures, rate limits and hangs on demand, scripted answers, settings, its request log, closing, and running on its own.
import { expect } from 'chai';
import { DataProviderSandbox, type DataProviderSandboxOptions, type GasBill, type InternetBill } from '../../scripts/sandboxes/data-providers.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { runStandalone } from '../helpers/standalone.js';
import { waitFor } from '../helpers/wait.js';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; throws when it is not. */
  json(): any;
}

/** The sandbox's draws, in order; one draw more than the test planned fails the request (500) rather than passing by chance. */
function draws(...values: number[]): () => number {
  return () => {
    const value = values.shift();
    if (value === undefined) throw new Error('the sandbox drew more random numbers than the test planned');
    return value;
  };
}

/** A seeded generator (mulberry32): varied bills, the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** "84.20" as 8420. */
const cents = (amount: string) => Number(amount.replace('.', ''));

/** Last month as from/to ISO dates, in UTC. */
function lastMonth(now = new Date()): { from: string; to: string } {
  const day = (m: number, d: number) => new Date(Date.UTC(now.getUTCFullYear(), m, d)).toISOString().slice(0, 10);
  return { from: day(now.getUTCMonth() - 1, 1), to: day(now.getUTCMonth(), 0) };
}

/** Last month, as it was when the request was sent or as it is now: a month may end between the two. */
function expectLastMonth(period: { from: string; to: string }, before: { from: string; to: string }): void {
  expect(period).to.have.all.keys('from', 'to');
  expect([before, lastMonth()], JSON.stringify(period)).to.deep.include(period);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (err: unknown) => err,
  );
}

describe('data-provider sandbox', () => {
  const opened = closedAfterEach();
  const sandbox = async (options: DataProviderSandboxOptions = {}) => opened(await DataProviderSandbox.start(options));

  async function call(server: DataProviderSandbox, method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Reply> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: init.headers,
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      signal: init.signal,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }
  const get = (server: DataProviderSandbox, path: string, headers?: Record<string, string>) => call(server, 'GET', path, { headers });

  describe('bills', () => {
    it('serves both providers from one server, at urlFor(provider)', async () => {
      const server = await sandbox();
      expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.urlFor('gas')).to.equal(`${server.url}/gas`);
      expect(server.urlFor('internet')).to.equal(`${server.url}/internet`);
      expect((await fetch(server.urlFor('gas'))).status).to.equal(200);
      expect((await fetch(server.urlFor('internet'))).status).to.equal(200);
    });

    it("answers GET /gas with last month's gas bill: a two-place decimal amount in EUR, and readings that add up", async () => {
      const server = await sandbox({ random: seeded(1) });
      const bills: GasBill[] = [];
      for (let i = 0; i < 20; i++) {
        const before = lastMonth();
        const reply = await get(server, '/gas');
        expect(reply.status).to.equal(200);
        expect(reply.headers.get('content-type')).to.equal('application/json');
        const bill = reply.json() as GasBill;
        expect(bill).to.have.all.keys('provider', 'supplier', 'accountNumber', 'period', 'amount', 'currency', 'dueDate', 'meter');
        expect(bill).to.include({ provider: 'gas', currency: 'EUR' });
        expect(bill.supplier).to.be.a('string').that.is.not.empty;
        expect(bill.accountNumber).to.be.a('string').that.is.not.empty;
        expectLastMonth(bill.period, before);
        expect(bill.amount).to.match(/^\d+\.\d{2}$/);
        expect(cents(bill.amount)).to.be.above(0);
        expect(bill.dueDate).to.match(/^\d{4}-\d{2}-\d{2}$/);
        expect(bill.dueDate > bill.period.to).to.equal(true);
        expect(bill.meter).to.have.all.keys('id', 'unit', 'previousReading', 'currentReading', 'consumption');
        expect(bill.meter.unit).to.equal('Smc');
        expect(bill.meter.id).to.match(/^\d{14}$/);
        expect(bill.meter.currentReading - bill.meter.previousReading).to.equal(bill.meter.consumption);
        expect(bill.meter.consumption).to.be.above(0);
        bills.push(bill);
      }
      // Values vary from bill to bill, as `random` draws them.
      expect(new Set(bills.map((b) => b.amount)).size).to.be.above(10);
      expect(new Set(bills.map((b) => b.supplier)).size).to.be.above(1);
    });

    it("answers GET /internet with last month's internet bill whose line amounts add up to its amount", async () => {
      const server = await sandbox({ random: seeded(2) });
      const bills: InternetBill[] = [];
      for (let i = 0; i < 20; i++) {
        const before = lastMonth();
        const reply = await get(server, '/internet');
        expect(reply.status).to.equal(200);
        const bill = reply.json() as InternetBill;
        expect(bill).to.have.all.keys('provider', 'supplier', 'accountNumber', 'plan', 'period', 'amount', 'currency', 'dueDate', 'lines');
        expect(bill).to.include({ provider: 'internet', currency: 'EUR' });
        expect(bill.plan).to.be.a('string').that.is.not.empty;
        expectLastMonth(bill.period, before);
        expect(bill.dueDate).to.match(/^\d{4}-\d{2}-\d{2}$/);
        expect(bill.amount).to.match(/^\d+\.\d{2}$/);
        expect(bill.lines).to.be.an('array').that.is.not.empty;
        for (const line of bill.lines) {
          expect(line).to.have.all.keys('description', 'amount');
          expect(line.description).to.be.a('string').that.is.not.empty;
          expect(line.amount).to.match(/^\d+\.\d{2}$/);
        }
        expect(bill.lines.reduce((sum, line) => sum + cents(line.amount), 0)).to.equal(cents(bill.amount));
        bills.push(bill);
      }
      expect(new Set(bills.map((b) => b.amount)).size).to.be.above(5);
      expect(new Set(bills.map((b) => b.lines.length)).size).to.be.above(1);
    });
  });

  describe('failures on demand', () => {
    it('answers 503 server_error to every call with a failure rate of 1', async () => {
      const server = await sandbox({ rates: { failure: 1 } });
      for (const path of ['/gas', '/internet', '/gas']) {
        const reply = await get(server, path);
        expect(reply.status, path).to.equal(503);
        expect(reply.json().error).to.include({ code: 'server_error' }).and.have.property('message').that.is.a('string').and.not.empty;
      }
      expect(server.requests.map((r) => r.answer)).to.deep.equal([503, 503, 503]);
    });

    it('answers 429 rate_limited with Retry-After: retryAfterSeconds (2 unless set) with a rateLimit rate of 1', async () => {
      const defaults = await sandbox({ rates: { rateLimit: 1 } });
      const limited = await get(defaults, '/internet');
      expect(limited.status).to.equal(429);
      expect(limited.headers.get('retry-after')).to.equal('2');
      expect(limited.json().error.code).to.equal('rate_limited');

      const server = await sandbox({ rates: { rateLimit: 1 }, retryAfterSeconds: 7 });
      const reply = await get(server, '/gas');
      expect([reply.status, reply.headers.get('retry-after'), reply.json().error.code]).to.deep.equal([429, '7', 'rate_limited']);
    });

    it('draws, per request: the latency range, then failure, then rateLimit, then timeout, stopping at the first that hits', async () => {
      const server = await sandbox({
        latencyMs: [0, 2],
        rates: { failure: 0.5, rateLimit: 0.5, timeout: 0.5 },
        // Request 1: latency, failure misses, rateLimit hits. Request 2: latency, failure hits.
        random: draws(0, 0.9, 0.1, 0, 0.1),
      });
      expect((await get(server, '/gas')).status).to.equal(429);
      expect((await get(server, '/gas')).status).to.equal(503);
    });

    it('holds the socket without answering with a timeout rate, then destroys it after timeoutHoldMs', async () => {
      const server = await sandbox({ rates: { timeout: 1 }, timeoutHoldMs: 500 });
      // A client with a timeout shorter than the hold gives up on its own.
      let started = Date.now();
      const timedOut = await rejection(call(server, 'GET', '/gas', { signal: AbortSignal.timeout(150) }));
      expect((timedOut as Error).name).to.equal('TimeoutError');
      expect(Date.now() - started).to.be.below(450);
      // A client without one hears nothing until the sandbox drops the connection.
      started = Date.now();
      const dropped = await rejection(get(server, '/internet'));
      expect(dropped).to.be.instanceOf(TypeError);
      expect(Date.now() - started).to.be.within(450, 1900);
      expect(server.requests.map((r) => r.answer)).to.deep.equal(['timeout', 'timeout']);
    });
  });

  describe('scripted answers', () => {
    it('serves the scripted answers of a provider in order, whatever the rates, then the rates decide again', async () => {
      const server = await sandbox({ rates: { failure: 1 } });
      server.script('gas', ['ok', { status: 429, retryAfter: '3' }, { status: 500, body: { oops: true } }]);
      server.script('gas', [{ status: 404 }]);

      const ok = await get(server, '/gas');
      expect(ok.status).to.equal(200);
      expect(ok.json()).to.include({ provider: 'gas', currency: 'EUR' });
      const limited = await get(server, '/gas');
      expect([limited.status, limited.headers.get('retry-after'), limited.json().error.code]).to.deep.equal([429, '3', 'rate_limited']);
      const broken = await get(server, '/gas');
      expect([broken.status, broken.json()]).to.deep.equal([500, { oops: true }]);
      const missing = await get(server, '/gas');
      expect([missing.status, missing.headers.get('retry-after'), missing.json().error.code]).to.deep.equal([404, null, 'not_found']);
      // Used up: the failure rate answers again. The other provider had no script.
      expect((await get(server, '/gas')).status).to.equal(503);
      expect((await get(server, '/internet')).status).to.equal(503);
      expect(server.requests.map((r) => [r.provider, r.answer])).to.deep.equal([
        ['gas', 200],
        ['gas', 429],
        ['gas', 500],
        ['gas', 404],
        ['gas', 503],
        ['internet', 503],
      ]);
    });

    it('applies the latency to scripted answers too, and draws no rate for them', async () => {
      // Only the latency is drawn for the scripted 'timeout'; a rate draw would exhaust the plan and answer 500.
      const server = await sandbox({ latencyMs: [200, 300], rates: { failure: 1 }, random: draws(0), timeoutHoldMs: 100 });
      server.script('internet', ['timeout']);
      const started = Date.now();
      expect(await rejection(get(server, '/internet'))).to.be.instanceOf(TypeError);
      expect(Date.now() - started).to.be.within(290, 1900);
      expect(server.requests.map((r) => r.answer)).to.deep.equal(['timeout']);
    });

    it("answers 'not-json' with a 200 HTML page", async () => {
      const server = await sandbox();
      server.script('gas', ['not-json']);
      const reply = await get(server, '/gas');
      expect(reply.status).to.equal(200);
      expect(reply.headers.get('content-type')).to.equal('text/html');
      expect(reply.text).to.match(/^<!DOCTYPE html>/);
      expect(() => reply.json()).to.throw(SyntaxError);
      expect(server.requests.map((r) => r.answer)).to.deep.equal([200]);
    });

    it("answers 'oversize' with a valid JSON document of about 2 MB, streamed without a content-length, and survives a client that stops reading", async () => {
      const server = await sandbox();
      server.script('internet', ['oversize', 'oversize', 'ok']);
      const reply = await get(server, '/internet');
      expect(reply.status).to.equal(200);
      expect(reply.headers.get('content-type')).to.equal('application/json');
      expect(reply.headers.get('content-length')).to.equal(null);
      expect(Buffer.byteLength(reply.text)).to.be.within(1.5 * 1024 * 1024, 3 * 1024 * 1024);
      expect(reply.json()).to.be.an('array').that.is.not.empty;

      // A client with a 1 MB limit reads up to it and gives up.
      const res = await fetch(server.urlFor('internet'));
      const reader = res.body!.getReader();
      let read = 0;
      while (read <= 1024 * 1024) {
        const { value, done } = await reader.read();
        if (done) expect.fail('the body ended before 1 MB');
        read += value.length;
      }
      await reader.cancel();
      expect((await get(server, '/internet')).status).to.equal(200);
    });

    it('refuses a script that is not one, at the call', async () => {
      const server = await sandbox();
      expect(() => server.script('gas', [{ status: 99 }])).to.throw(RangeError);
      expect(() => server.script('gas', [{ status: 503, retryAfter: '1\r\nx-evil: 1' }])).to.throw(TypeError);
      expect(() => server.script('gas', ['later' as 'ok'])).to.throw(TypeError);
      expect(() => server.script('water' as 'gas', ['ok'])).to.throw(RangeError);
      expect(() => server.urlFor('water' as 'gas')).to.throw(RangeError);
      // Nothing of a refused script was queued.
      expect((await get(server, '/gas')).status).to.equal(200);
    });
  });

  describe('settings', () => {
    it('shows its settings with GET /settings and replaces them with PUT /settings, which applies at once', async () => {
      const server = await sandbox({ latencyMs: [0, 5], rates: { failure: 0.2 }, random: () => 0.5 });
      expect((await get(server, '/settings')).json()).to.deep.equal({ latencyMs: [0, 5], rates: { failure: 0.2, timeout: 0, rateLimit: 0 }, retryAfterSeconds: 2 });

      const put = await call(server, 'PUT', '/settings', { body: { rates: { rateLimit: 1 }, retryAfterSeconds: 5 } });
      // Rates are replaced as a whole (failure is back to 0); the latency, not given, stays.
      expect([put.status, put.json()]).to.deep.equal([200, { latencyMs: [0, 5], rates: { failure: 0, timeout: 0, rateLimit: 1 }, retryAfterSeconds: 5 }]);
      expect(server.settings).to.deep.equal(put.json());
      const limited = await get(server, '/gas');
      expect([limited.status, limited.headers.get('retry-after')]).to.deep.equal([429, '5']);

      expect((await call(server, 'PUT', '/settings', { body: { latencyMs: 0, rates: {} } })).json()).to.deep.equal({
        latencyMs: 0,
        rates: { failure: 0, timeout: 0, rateLimit: 0 },
        retryAfterSeconds: 5,
      });
      expect((await get(server, '/gas')).status).to.equal(200);
    });

    it('gives one provider rates of its own, with setRates(rates, provider) or PUT providerRates, until the shared rates are set again', async () => {
      const server = await sandbox();
      server.setRates({ failure: 1 }, 'gas');
      expect([(await get(server, '/gas')).status, (await get(server, '/internet')).status]).to.deep.equal([503, 200]);
      expect((await get(server, '/settings')).json()).to.deep.equal({
        latencyMs: 0,
        rates: { failure: 0, timeout: 0, rateLimit: 0 },
        retryAfterSeconds: 2,
        providerRates: { gas: { failure: 1, timeout: 0, rateLimit: 0 } },
      });
      server.setRates({}, 'gas');
      expect((await get(server, '/gas')).status).to.equal(200);

      // Over HTTP too; what GET /settings shows can be PUT back as it is.
      const put = await call(server, 'PUT', '/settings', { body: { providerRates: { internet: { rateLimit: 1 } } } });
      expect(put.json().providerRates).to.deep.equal({ internet: { failure: 0, timeout: 0, rateLimit: 1 } });
      expect([(await get(server, '/gas')).status, (await get(server, '/internet')).status]).to.deep.equal([200, 429]);
      expect((await call(server, 'PUT', '/settings', { body: put.json() })).json()).to.deep.equal(put.json());
      // The shared rates are every provider's: setting them drops the providers' own.
      const shared = await call(server, 'PUT', '/settings', { body: { rates: { failure: 1 } } });
      expect(shared.json()).to.not.have.property('providerRates');
      expect([(await get(server, '/gas')).status, (await get(server, '/internet')).status]).to.deep.equal([503, 503]);
      server.setRates({ rateLimit: 1 }, 'internet');
      server.setRates({});
      expect([(await get(server, '/gas')).status, (await get(server, '/internet')).status]).to.deep.equal([200, 200]);
      expect(() => server.setRates({}, 'water' as 'gas')).to.throw(RangeError);
    });

    it('refuses settings that are not valid with 400 invalid_request, and changes nothing then', async () => {
      const server = await sandbox({ latencyMs: 10 });
      for (const bad of [
        { rates: { failure: 2 } },
        { rates: { failure: '1' } },
        { rates: { failure: null } },
        { rates: { fail: 1 } },
        { rates: [] },
        { rates: null },
        { latencyMs: -1 },
        { latencyMs: [5, 1] },
        { retryAfterSeconds: 1.5 },
        { retryAfterSeconds: -1 },
        { retryAfterSeconds: '2' },
        // Valid ones beside an invalid one are not applied either.
        { latencyMs: 0, retryAfterSeconds: 9, rates: { failure: -0.1 } },
        { retry: 1 },
        { providerRates: { water: { failure: 1 } } },
        { providerRates: { gas: { fail: 1 } } },
        { providerRates: { gas: { failure: 2 } } },
        { providerRates: { gas: [] } },
        { providerRates: [] },
        [],
        '{not json',
      ]) {
        const reply = await call(server, 'PUT', '/settings', { body: bad });
        expect([reply.status, reply.json().error.code], JSON.stringify(bad)).to.deep.equal([400, 'invalid_request']);
      }
      expect((await get(server, '/settings')).json()).to.deep.equal({ latencyMs: 10, rates: { failure: 0, timeout: 0, rateLimit: 0 }, retryAfterSeconds: 2 });
      expect(() => server.setRates({ rateLimit: 1.5 })).to.throw(RangeError, /rateLimit rate/);
      expect(() => server.setLatency([3, 2])).to.throw(RangeError);
      expect(() => server.setRetryAfterSeconds(0.5)).to.throw(RangeError);
      let failed: unknown;
      await DataProviderSandbox.start({ rates: { timeout: -1 } }).catch((err: unknown) => (failed = err));
      expect(failed).to.be.instanceOf(RangeError);
    });
  });

  describe('request log and routes', () => {
    it('logs each bill request with its provider, when it came, its x-request-id and its answer; GET /requests lists them', async () => {
      const server = await sandbox({ timeoutHoldMs: 50 });
      server.script('internet', [{ status: 503 }, 'timeout']);
      const before = Date.now();
      await get(server, '/gas', { 'x-request-id': 'req-1' });
      await get(server, '/internet', { 'x-request-id': 'req-2' });
      await rejection(get(server, '/internet', { 'x-request-id': 'req-3' }));
      await get(server, '/gas');
      const after = Date.now();
      expect(server.requests.map(({ provider, requestId, answer }) => ({ provider, requestId, answer }))).to.deep.equal([
        { provider: 'gas', requestId: 'req-1', answer: 200 },
        { provider: 'internet', requestId: 'req-2', answer: 503 },
        { provider: 'internet', requestId: 'req-3', answer: 'timeout' },
        { provider: 'gas', requestId: null, answer: 200 },
      ]);
      for (const { at } of server.requests) expect(at).to.be.within(before, after);

      expect((await get(server, '/requests')).json()).to.deep.equal({ data: server.requests });
      expect((await get(server, '/requests?provider=internet')).json().data.map((r: { requestId: string }) => r.requestId)).to.deep.equal(['req-2', 'req-3']);
      const unknown = await get(server, '/requests?provider=water');
      expect([unknown.status, unknown.json().error.code]).to.deep.equal([400, 'invalid_request']);
    });

    it('answers 404 to other paths and 405 with Allow to other methods, and logs neither', async () => {
      const server = await sandbox();
      for (const path of ['/', '/water', '/gas/', '/v1/gas']) {
        const reply = await get(server, path);
        expect([reply.status, reply.json().error.code], path).to.deep.equal([404, 'not_found']);
      }
      for (const [method, path, allow] of [
        ['POST', '/gas', 'GET'],
        ['DELETE', '/internet', 'GET'],
        ['HEAD', '/gas', 'GET'],
        ['POST', '/requests', 'GET'],
        ['POST', '/settings', 'GET, PUT'],
      ] as const) {
        const reply = await call(server, method, path);
        expect([reply.status, reply.headers.get('allow')], `${method} ${path}`).to.deep.equal([405, allow]);
        if (method !== 'HEAD') expect(reply.json().error.code).to.equal('method_not_allowed');
      }
      expect(server.requests).to.deep.equal([]);
    });

    it('closes at once while it holds a timeout, and the client sees the connection drop', async () => {
      const server = await sandbox({ rates: { timeout: 1 }, timeoutHoldMs: 60_000 });
      const pending = rejection(get(server, '/gas'));
      await waitFor(() => server.requests.length === 1, { what: 'the held request' });
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).to.be.below(1000);
      expect(await pending).to.be.instanceOf(TypeError);
      // Closing again is harmless.
      await server.close();
    });
  });

  it('runs on its own: one line with both URLs and how to change the failure rate, half the calls failing, and exit 0 on SIGTERM', async () => {
    const { line, stop } = await runStandalone('scripts/sandboxes/data-providers.ts', opened);
    const url = /listening on (http:\/\/[^\s,]+)/.exec(line)?.[1];
    expect(url, line).to.be.a('string');
    expect(line).to.include(`${url}/gas`).and.include(`${url}/internet`);
    expect(line).to.include(`curl -X PUT ${url}/settings -H 'content-type: application/json' -d '{"rates":{"failure":0.1}}'`);
    expect(await (await fetch(`${url}/settings`)).json()).to.deep.equal({ latencyMs: [100, 800], rates: { failure: 0.5, timeout: 0, rateLimit: 0 }, retryAfterSeconds: 2 });
    expect(await stop()).to.deep.equal([0, null]);
  });
});
