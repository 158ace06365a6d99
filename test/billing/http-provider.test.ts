// The HTTP payment provider against the sandbox and against an independent server: answers, errors by code, lost answers, keys in use, Retry-After, the ledger by reference.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { PaymentSandbox } from '../../scripts/sandboxes/payment-provider.js';
import { createHttpPaymentProvider } from '../../shared/billing/provider/http-provider.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import {
  CurrencyMismatchError,
  CustomerNotFoundError,
  KeyInUseError,
  NetworkError,
  ProviderRejectedError,
  type ChargeRequest,
} from '../../shared/billing/provider/provider.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';

const request = (reference: string, overrides: Partial<ChargeRequest> = {}): ChargeRequest => ({
  customerId: 'cus_1',
  amountCents: 300,
  currency: 'EUR',
  reference,
  idempotencyKey: `charge-${reference}`,
  ...overrides,
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (err: unknown) => err,
  );
}

describe('HTTP payment provider', () => {
  const opened = closedAfterEach();

  async function sandbox(options: Parameters<typeof PaymentSandbox.start>[0] = {}): Promise<PaymentSandbox> {
    return opened(await PaymentSandbox.start({ accounts: { cus_1: { balance: 1000, currency: 'EUR' } }, ...options }));
  }

  it('charges, sending the Idempotency-Key header and the contract body', async () => {
    const server = await sandbox();
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const result = await provider.charge(request('inv_1'));
    expect(result.charged).to.equal(true);
    const [entry, ...rest] = server.ledger.entries();
    expect(rest).to.deep.equal([]);
    expect(entry).to.include({ id: result.chargeId, idempotencyKey: 'charge-inv_1', customerId: 'cus_1', amount: 300, currency: 'EUR', reference: 'inv_1', charged: true });
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(700);
  });

  it('returns charged: false when the balance does not allow the charge', async () => {
    const server = await sandbox();
    const provider = createHttpPaymentProvider({ baseUrl: `${server.url}/`, timeoutMs: 5000 });
    const result = await provider.charge(request('inv_1', { amountCents: 5000 }));
    expect(result.charged).to.equal(false);
    expect(server.ledger.entries({ reference: 'inv_1' })).to.have.length(1);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000);
  });

  it('throws CustomerNotFoundError on 404 and CurrencyMismatchError on 409', async () => {
    const server = await sandbox();
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const notFound = await rejection(provider.charge(request('inv_1', { customerId: 'cus_x' })));
    expect(notFound).to.be.instanceOf(CustomerNotFoundError).and.include({ customerId: 'cus_x' });
    const mismatch = await rejection(provider.charge(request('inv_2', { currency: 'USD' })));
    expect(mismatch).to.be.instanceOf(CurrencyMismatchError).and.include({ customerId: 'cus_1', currency: 'USD' });
    expect(server.ledger.entries()).to.deep.equal([]);
  });

  it('throws NetworkError on a 503, with nothing charged', async () => {
    const server = await sandbox({ rates: { serverError: 1 } });
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const err = await rejection(provider.charge(request('inv_1')));
    expect(err).to.be.instanceOf(NetworkError);
    expect((err as NetworkError).message).to.match(/answered 503/);
    expect(server.ledger.entries()).to.deep.equal([]);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000);
    // Nothing was stored for the key, so once the provider recovers the retry really charges.
    server.setRates({});
    expect(await provider.charge(request('inv_1'))).to.include({ charged: true });
  });

  it('throws NetworkError when the answer is lost, and the retry with the same key gets the first charge', async () => {
    const server = await sandbox({ rates: { timeout: 1 }, timeoutHoldMs: 2000 });
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 150 });
    const err = await rejection(provider.charge(request('inv_1')));
    expect(err).to.be.instanceOf(NetworkError);
    expect((err as NetworkError).message).to.equal('payment provider gave no answer within 150 ms');
    // The sandbox charged before it went silent: that is the case the key exists for.
    const [charged] = server.ledger.entries();
    expect(charged).to.include({ charged: true, idempotencyKey: 'charge-inv_1' });

    server.setRates({});
    const retry = await provider.charge(request('inv_1'));
    expect(retry).to.deep.equal({ charged: true, chargeId: charged!.id });
    expect(server.ledger.entries()).to.have.length(1);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(700);
  });

  it('closes at once while it holds a silent connection, and the client sees the connection drop', async () => {
    const server = await sandbox({ rates: { timeout: 1 } });
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 10_000 });
    const pending = rejection(provider.charge(request('inv_1')));
    await waitFor(() => server.ledger.entries().length === 1, { what: 'the silent charge' });
    const started = Date.now();
    await server.close();
    const err = await pending;
    expect(Date.now() - started).to.be.below(2000);
    expect(err).to.be.instanceOf(NetworkError);
    expect((err as NetworkError).message).to.match(/^payment provider unreachable/);
  });

  it('throws NetworkError saying so when nothing listens', async () => {
    const server = await sandbox();
    const { url } = server;
    await server.close();
    const provider = createHttpPaymentProvider({ baseUrl: url, timeoutMs: 5000 });
    const err = await rejection(provider.charge(request('inv_1')));
    expect(err).to.be.instanceOf(NetworkError);
    expect((err as NetworkError).message).to.match(/unreachable.*ECONNREFUSED/);
  });

  it('works with any server that implements the contract, and honours its Retry-After', async () => {
    const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: unknown }[] = [];
    const answers = [
      { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'ch_1', charged: true }) },
      { status: 503, headers: { 'retry-after': '7' }, body: 'try later' },
      { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 1 }) },
      { status: 429, headers: {}, body: '' },
      { status: 404, headers: { 'content-type': 'text/html' }, body: '<html><body>Not Found</body></html>' },
      { status: 409, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'idempotency_key_in_use', message: 'busy' } }) },
      { status: 409, headers: { 'content-type': 'application/json', 'retry-after': '3' }, body: JSON.stringify({ error: { code: 'idempotency_key_in_use' } }) },
      { status: 409, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'conflict' }) },
      { status: 422, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'unsupported_currency', message: 'no XTS here' } }) },
      { status: 408, headers: { 'retry-after': '2' }, body: '' },
      { status: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'customer_not_found', message: 'who?' } }) },
    ];
    const server: Server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: raw ? JSON.parse(raw) : undefined });
        const answer = answers[seen.length - 1]!;
        res.writeHead(answer.status, answer.headers).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    opened({
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
    const { port } = server.address() as AddressInfo;
    const provider = createHttpPaymentProvider({ baseUrl: `http://127.0.0.1:${port}/v1/`, timeoutMs: 5000 });

    expect(await provider.charge(request('inv_1'))).to.deep.equal({ charged: true, chargeId: 'ch_1' });
    expect(seen[0]).to.deep.include({ method: 'POST', url: '/v1/charges', body: { customerId: 'cus_1', amount: 300, currency: 'EUR', reference: 'inv_1' } });
    expect(seen[0]!.headers['idempotency-key']).to.equal('charge-inv_1');
    expect(seen[0]!.headers['content-type']).to.equal('application/json');

    const unavailable = await rejection(provider.charge(request('inv_2')));
    expect(unavailable).to.be.instanceOf(NetworkError).and.include({ retryAfterMs: 7000 });
    expect((unavailable as Error).message).to.equal('payment provider answered 503: try later');

    const malformed = await rejection(provider.charge(request('inv_3')));
    expect(malformed).to.be.instanceOf(NetworkError);
    expect((malformed as Error).message).to.match(/unexpected body/);

    const limited = await rejection(provider.charge(request('inv_4')));
    expect(limited).to.be.instanceOf(NetworkError).and.include({ retryAfterMs: undefined });

    const html404 = await rejection(provider.charge(request('inv_5')));
    expect(html404).to.be.instanceOf(ProviderRejectedError).and.include({ status: 404, code: undefined });
    expect((html404 as Error).message).to.equal(
      'payment provider refused the request with 404 (no error code): <html><body>Not Found</body></html>; check PAYMENT_PROVIDER_URL and the request',
    );
    expect(await rejection(provider.charge(request('inv_6')))).to.be.instanceOf(KeyInUseError).and.include({ retryAfterMs: 1000 });
    expect(await rejection(provider.charge(request('inv_7')))).to.be.instanceOf(KeyInUseError).and.include({ retryAfterMs: 3000 });
    // A 409 without the contract's codes is not the customer's currency: something between us and the provider is wrong.
    expect(await rejection(provider.charge(request('inv_8')))).to.be.instanceOf(ProviderRejectedError).and.include({ status: 409, code: undefined });
    const unprocessable = await rejection(provider.charge(request('inv_9')));
    expect(unprocessable).to.be.instanceOf(ProviderRejectedError).and.include({ status: 422, code: 'unsupported_currency' });
    expect((unprocessable as Error).message).to.match(/422 unsupported_currency: no XTS here; check PAYMENT_PROVIDER_URL/);
    expect(await rejection(provider.charge(request('inv_10')))).to.be.instanceOf(NetworkError).and.include({ retryAfterMs: 2000 });
    expect(await rejection(provider.charge(request('inv_11')))).to.be.instanceOf(CustomerNotFoundError);
    expect(seen.map((s) => s.headers['idempotency-key'])).to.deep.equal(Array.from({ length: 11 }, (_, i) => `charge-inv_${i + 1}`));
  });

  it("reads any contract server's ledger with GET /charges?reference=, keeping only that reference's entries", async () => {
    const seen: { method?: string; url?: string; headers: IncomingHttpHeaders }[] = [];
    const entry = { id: 'ch_1', reference: 'inv_1', amount: 300, currency: 'EUR', charged: true, createdAt: '2026-11-01T00:00:00.000Z', customerId: 'cus_1' };
    const answers = [
      // A provider that ignores the filter: another reference's charge must not pass for ours.
      { status: 200, body: JSON.stringify({ data: [entry, { ...entry, id: 'ch_2', reference: 'inv_2' }] }) },
      { status: 200, body: JSON.stringify({ data: [{ ...entry, amount: '300' }] }) },
      { status: 502, body: 'bad gateway' },
      { status: 401, body: JSON.stringify({ error: { code: 'unauthorized', message: 'no key' } }) },
    ];
    const server: Server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      const answer = answers[seen.length - 1]!;
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    opened({
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
    const { port } = server.address() as AddressInfo;
    const provider = createHttpPaymentProvider({ baseUrl: `http://127.0.0.1:${port}/v1`, timeoutMs: 5000 });

    expect(await provider.chargesFor('inv_1')).to.deep.equal([
      { id: 'ch_1', reference: 'inv_1', amountCents: 300, currency: 'EUR', charged: true, createdAt: '2026-11-01T00:00:00.000Z' },
    ]);
    expect(seen[0]).to.include({ method: 'GET', url: '/v1/charges?reference=inv_1' });
    expect(seen[0]!.headers['idempotency-key']).to.equal(undefined);
    const malformed = await rejection(provider.chargesFor('inv_1'));
    expect(malformed).to.be.instanceOf(NetworkError);
    expect((malformed as Error).message).to.match(/unexpected body/);
    expect(await rejection(provider.chargesFor('inv_1'))).to.be.instanceOf(NetworkError);
    expect(await rejection(provider.chargesFor('inv_1'))).to.be.instanceOf(ProviderRejectedError).and.include({ status: 401, code: 'unauthorized' });
  });

  it("serves the sandbox's own routes: accounts, the ledger by reference, 400 on bad charges", async () => {
    const server = await sandbox({ accounts: {} });
    const put = await fetch(`${server.url}/accounts/cus%2F1`, { method: 'PUT', body: JSON.stringify({ balance: 500, currency: 'EUR' }) });
    expect(put.status).to.equal(200);
    expect(await put.json()).to.deep.equal({ balance: 500, currency: 'EUR' });
    const get = await fetch(`${server.url}/accounts/cus%2F1`);
    expect(await get.json()).to.deep.equal({ balance: 500, currency: 'EUR' });
    expect((await fetch(`${server.url}/accounts/nobody`)).status).to.equal(404);

    const charge = (key: string | undefined, body: unknown) =>
      fetch(`${server.url}/charges`, { method: 'POST', headers: key ? { 'idempotency-key': key } : {}, body: JSON.stringify(body) });
    const valid = { customerId: 'cus/1', amount: 200, currency: 'EUR', reference: 'inv_1' };
    expect((await charge(undefined, valid)).status).to.equal(400);
    const invalid = await charge('k0', { ...valid, amount: 1.5 });
    expect(invalid.status).to.equal(400);
    const { error } = (await invalid.json()) as { error: { code: string; message: string } };
    expect(error.code).to.equal('invalid_request');
    expect(error.message).to.match(/amount/);
    expect((await charge('k1', valid)).status).to.equal(200);
    expect((await charge('k2', { ...valid, reference: 'inv_2' })).status).to.equal(200);

    const listed = (await (await fetch(`${server.url}/charges?reference=inv_2`)).json()) as { data: { idempotencyKey: string }[] };
    expect(listed.data.map((e) => e.idempotencyKey)).to.deep.equal(['k2']);
    const all = (await (await fetch(`${server.url}/charges`)).json()) as { data: unknown[] };
    expect(all.data).to.have.length(2);
    const unknown = await fetch(`${server.url}/payouts`);
    expect(unknown.status).to.equal(404);
    expect(await unknown.json()).to.deep.equal({ error: { code: 'not_found', message: 'no route GET /payouts' } });
  });

  it("throws ProviderRejectedError, not CustomerNotFoundError, on the 404 of a wrong base URL", async () => {
    const server = await sandbox();
    const provider = createHttpPaymentProvider({ baseUrl: `${server.url}/v2`, timeoutMs: 5000 });
    const err = await rejection(provider.charge(request('inv_1')));
    expect(err).to.be.instanceOf(ProviderRejectedError).and.include({ status: 404, code: 'not_found' });
    expect(err).not.to.be.instanceOf(RetryableError);
    expect((err as Error).message).to.equal(
      'payment provider refused the request with 404 not_found: no route POST /v2/charges; check PAYMENT_PROVIDER_URL and the request',
    );
    const ledger = await rejection(provider.chargesFor('inv_1'));
    expect(ledger).to.be.instanceOf(ProviderRejectedError).and.include({ status: 404, code: 'not_found' });
    expect(server.ledger.entries()).to.deep.equal([]);
  });

  it('throws ProviderRejectedError on a 400, which is ours to mend and not retried as a network error', async () => {
    const server = await sandbox();
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const err = await rejection(provider.charge(request('inv_1', { amountCents: 2.5 })));
    expect(err).to.be.instanceOf(ProviderRejectedError).and.include({ status: 400, code: 'invalid_request' });
    expect(err).not.to.be.instanceOf(RetryableError);
    expect((err as Error).message).to.match(/^payment provider refused the request with 400 invalid_request: amount must be .*; check PAYMENT_PROVIDER_URL and the request$/);
    expect(server.chargeRequests).to.equal(0);
  });

  it('throws KeyInUseError while the first request with the key is in flight; the retry then gets its answer', async () => {
    const server = await sandbox({ latencyMs: 300 });
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const first = provider.charge(request('inv_1'));
    await waitFor(() => server.chargeRequests === 1, { what: 'the first request' });
    const second = await rejection(provider.charge(request('inv_1')));
    expect(second).to.be.instanceOf(KeyInUseError).and.include({ idempotencyKey: 'charge-inv_1', retryAfterMs: 1000 });
    expect(second).to.be.instanceOf(RetryableError);
    const answer = await first;
    expect(answer.charged).to.equal(true);
    // Stored now: the key is no longer in flight, and replays of its answer may overlap.
    expect(await Promise.all([provider.charge(request('inv_1')), provider.charge(request('inv_1'))])).to.deep.equal([answer, answer]);
    expect(server.ledger.entries()).to.have.length(1);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(700);
  });

  it('clears the in-flight mark of a request that ends in a 503, so the retry charges', async () => {
    const server = await sandbox({ latencyMs: 200, rates: { serverError: 1 } });
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const first = rejection(provider.charge(request('inv_1')));
    await waitFor(() => server.chargeRequests === 1, { what: 'the first request' });
    expect(await rejection(provider.charge(request('inv_1')))).to.be.instanceOf(KeyInUseError);
    expect(await first).to.be.instanceOf(NetworkError);
    server.setRates({});
    expect(await provider.charge(request('inv_1'))).to.include({ charged: true });
  });

  it('clears the in-flight mark of a request whose client gave up waiting, once its answer is stored', async () => {
    const server = await sandbox({ latencyMs: 200 });
    const impatient = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 50 });
    expect(await rejection(impatient.charge(request('inv_1')))).to.be.instanceOf(NetworkError);
    await waitFor(() => server.ledger.entries().length === 1, { what: 'the charge the client did not wait for' });
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    expect(await provider.charge(request('inv_1'))).to.deep.equal({ charged: true, chargeId: server.ledger.entries()[0]!.id });
  });

  it("reads the provider's ledger for one reference, declines included, whatever the key", async () => {
    const server = await sandbox();
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const reference = 'inv 1/&?=é';
    const declined = await provider.charge(request(reference, { amountCents: 5000, idempotencyKey: 'a' }));
    const charged = await provider.charge(request(reference, { idempotencyKey: 'b' }));
    await provider.charge(request('inv_2'));
    const entries = await provider.chargesFor(reference);
    expect(entries.map(({ createdAt, ...rest }) => rest)).to.deep.equal([
      { id: declined.chargeId, reference, amountCents: 5000, currency: 'EUR', charged: false },
      { id: charged.chargeId, reference, amountCents: 300, currency: 'EUR', charged: true },
    ]);
    for (const { createdAt } of entries) expect(Number.isNaN(Date.parse(createdAt))).to.equal(false);
    expect(await provider.chargesFor('inv_9')).to.deep.equal([]);

    const { url } = server;
    await server.close();
    const gone = await rejection(createHttpPaymentProvider({ baseUrl: url, timeoutMs: 5000 }).chargesFor(reference));
    expect(gone).to.be.instanceOf(NetworkError);
    expect((gone as Error).message).to.match(/unreachable.*ECONNREFUSED/);
  });

  it('charges the same key again once the provider forgets it, while its ledger still shows the first charge', async () => {
    const server = await sandbox();
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const first = await provider.charge(request('inv_1'));
    expect(await provider.charge(request('inv_1'))).to.deep.equal(first);
    server.forgetKeys();
    const second = await provider.charge(request('inv_1'));
    expect(second.chargeId).not.to.equal(first.chargeId);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(400);
    // What a caller asks before charging again: the ledger remembers what the keys no longer do.
    expect((await provider.chargesFor('inv_1')).map((c) => [c.id, c.charged])).to.deep.equal([
      [first.chargeId, true],
      [second.chargeId, true],
    ]);
  });

  it('forgets keys after forgetKeysAfterMs', async () => {
    const server = await sandbox({ forgetKeysAfterMs: 150 });
    const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
    const first = await provider.charge(request('inv_1'));
    expect(await provider.charge(request('inv_1'))).to.deep.equal(first);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await provider.charge(request('inv_1'))).chargeId).not.to.equal(first.chargeId);
    server.forgetKeysAfter(undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await provider.charge(request('inv_1'))).to.deep.equal(await provider.charge(request('inv_1')));
    expect(server.ledger.entries({ reference: 'inv_1' })).to.have.length(2);
  });
});
