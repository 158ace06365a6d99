// The HTTP payment provider against the sandbox and against an independent server: answers, errors by code, lost answers, keys in use, Retry-After, the ledger by reference, balances, refunds, the circuit breaker.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { PaymentSandbox } from '../../scripts/sandboxes/payment-provider.js';
import { withCircuitBreaker } from '../../shared/billing/provider/breaker.js';
import { createHttpPaymentProvider } from '../../shared/billing/provider/http-provider.js';
import { loadConfig } from '../../shared/platform/config.js';
import { CircuitOpenError } from '../../shared/platform/errors/circuit-open.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { createLogger } from '../../shared/platform/logger.js';
import {
  CurrencyMismatchError,
  CustomerNotFoundError,
  KeyInUseError,
  NetworkError,
  ProviderRejectedError,
  RefundRefusedError,
  type ChargeRequest,
  type RefundRequest,
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

const refundOf = (chargeId: string, overrides: Partial<RefundRequest> = {}): RefundRequest => ({
  chargeId,
  amountCents: 300,
  reference: 'ord_1',
  idempotencyKey: `refund-${chargeId}`,
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
    const refunds = [
      { id: 're_1', amount: 100, createdAt: '2026-11-02T00:00:00.000Z' },
      { id: 're_2', amount: 50, createdAt: '2026-11-03T00:00:00.000Z' },
    ];
    const answers = [
      // A provider that ignores the filter: another reference's charge must not pass for ours. Its entries have no
      // refunds fields, as from a provider older than refunds.
      { status: 200, body: JSON.stringify({ data: [entry, { ...entry, id: 'ch_2', reference: 'inv_2' }] }) },
      { status: 200, body: JSON.stringify({ data: [{ ...entry, refunded: 150, refunds }, { ...entry, id: 'ch_3', refunded: 0, refunds: [] }] }) },
      { status: 200, body: JSON.stringify({ data: [{ ...entry, refunded: 1, refunds: [{ ...refunds[0], amount: 0.5 }] }] }) },
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
      { id: 'ch_1', reference: 'inv_1', amountCents: 300, currency: 'EUR', charged: true, createdAt: '2026-11-01T00:00:00.000Z', refunds: [] },
    ]);
    expect(seen[0]).to.include({ method: 'GET', url: '/v1/charges?reference=inv_1' });
    expect(seen[0]!.headers['idempotency-key']).to.equal(undefined);
    expect((await provider.chargesFor('inv_1')).map(({ id, refunds }) => ({ id, refunds }))).to.deep.equal([
      {
        id: 'ch_1',
        refunds: [
          { id: 're_1', amountCents: 100, createdAt: '2026-11-02T00:00:00.000Z' },
          { id: 're_2', amountCents: 50, createdAt: '2026-11-03T00:00:00.000Z' },
        ],
      },
      { id: 'ch_3', refunds: [] },
    ]);
    const fractionalRefund = await rejection(provider.chargesFor('inv_1'));
    expect(fractionalRefund).to.be.instanceOf(NetworkError);
    expect((fractionalRefund as Error).message).to.match(/unexpected body/);
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
    // Nor a missing account or charge: the 404s of balance checks and refunds are read by their code too.
    const account = await rejection(provider.account('cus_1'));
    expect(account).to.be.instanceOf(ProviderRejectedError).and.include({ status: 404, code: 'not_found' });
    expect((account as Error).message).to.match(/no route GET \/v2\/accounts\/cus_1;/);
    const refund = await rejection(provider.refund(refundOf('ch_1')));
    expect(refund).to.be.instanceOf(ProviderRejectedError).and.include({ status: 404, code: 'not_found' });
    expect(server.ledger.entries()).to.deep.equal([]);
    expect(server.refundRequests).to.equal(0);
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
      { id: declined.chargeId, reference, amountCents: 5000, currency: 'EUR', charged: false, refunds: [] },
      { id: charged.chargeId, reference, amountCents: 300, currency: 'EUR', charged: true, refunds: [] },
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

  describe('balances and refunds', () => {
    it('reads an account: its balance and currency, the customer id kept one path segment', async () => {
      const server = await sandbox();
      server.ledger.setAccount('cus/2 ?#', { balance: 250, currency: 'USD' });
      const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
      expect(await provider.account('cus_1')).to.deep.equal({ balanceCents: 1000, currency: 'EUR' });
      expect(await provider.account('cus/2 ?#')).to.deep.equal({ balanceCents: 250, currency: 'USD' });
      await provider.charge(request('inv_1'));
      expect(await provider.account('cus_1')).to.deep.equal({ balanceCents: 700, currency: 'EUR' });
    });

    it('throws CustomerNotFoundError for an account the provider does not have, which no retry can mend', async () => {
      const server = await sandbox();
      const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
      const err = await rejection(provider.account('cus_x'));
      expect(err).to.be.instanceOf(CustomerNotFoundError).and.include({ customerId: 'cus_x' });
      expect(err).not.to.be.instanceOf(RetryableError);
    });

    it('refunds once per key: the same key replays the first answer and gives the money back once', async () => {
      const server = await sandbox();
      const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
      const { chargeId } = await provider.charge(request('ord_1'));
      const first = await provider.refund(refundOf(chargeId, { amountCents: 100 }));
      const [stored, ...rest] = server.ledger.refunds();
      expect(rest).to.deep.equal([]);
      expect(first).to.deep.equal({ refundId: stored!.id, refunded: true });
      expect(stored).to.include({ idempotencyKey: `refund-${chargeId}`, chargeId, amount: 100, reference: 'ord_1', customerId: 'cus_1' });
      // Another amount with the key changes nothing: the key already has its answer.
      expect(await provider.refund(refundOf(chargeId, { amountCents: 200 }))).to.deep.equal(first);
      expect(server.ledger.refunds()).to.have.length(1);
      expect(server.refundRequests).to.equal(2);
      expect(await provider.account('cus_1')).to.deep.equal({ balanceCents: 800, currency: 'EUR' });
    });

    it('throws RefundRefusedError by code: a decline, more than is left of the charge, an unknown charge', async () => {
      const server = await sandbox();
      const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
      const declined = await provider.charge(request('ord_2', { amountCents: 5000 }));
      const notCaptured = await rejection(provider.refund(refundOf(declined.chargeId, { reference: 'ord_2' })));
      expect(notCaptured).to.be.instanceOf(RefundRefusedError).and.include({ code: 'charge_not_captured' });
      expect(notCaptured).not.to.be.instanceOf(RetryableError);

      const { chargeId } = await provider.charge(request('ord_1'));
      expect(await provider.refund(refundOf(chargeId, { idempotencyKey: 'refund-1' }))).to.include({ refunded: true });
      // The whole charge again under another key (the first one's answer lost and its key forgotten, say): refused.
      const exceeds = await rejection(provider.refund(refundOf(chargeId, { idempotencyKey: 'refund-2' })));
      expect(exceeds).to.be.instanceOf(RefundRefusedError).and.include({ code: 'refund_exceeds_charge' });
      expect((exceeds as Error).message).to.equal(
        `payment provider refused the refund with refund_exceeds_charge: charge ${chargeId} has 0 of 300 left to refund, not 300`,
      );

      const unknown = await rejection(provider.refund(refundOf('ch_nope')));
      expect(unknown).to.be.instanceOf(RefundRefusedError).and.include({ code: 'charge_not_found' });
      expect(server.ledger.refunds()).to.have.length(1);
      expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000);
    });

    it('throws KeyInUseError while the first refund with the key is in flight; the retry then gets its answer', async () => {
      const server = await sandbox({ latencyMs: 300 });
      const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
      const { chargeId } = await provider.charge(request('ord_1'));
      const first = provider.refund(refundOf(chargeId));
      await waitFor(() => server.refundRequests === 1, { what: 'the first refund request' });
      const second = await rejection(provider.refund(refundOf(chargeId)));
      expect(second).to.be.instanceOf(KeyInUseError).and.include({ idempotencyKey: `refund-${chargeId}`, retryAfterMs: 1000 });
      const answer = await first;
      expect(answer.refunded).to.equal(true);
      expect(await provider.refund(refundOf(chargeId))).to.deep.equal(answer);
      expect(server.ledger.refunds()).to.have.length(1);
      expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000);
    });

    it('shows each refund under the charge it gave money back from in chargesFor, oldest first', async () => {
      const server = await sandbox();
      const provider = createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 });
      const charged = await provider.charge(request('ord_1', { idempotencyKey: 'a' }));
      const declined = await provider.charge(request('ord_1', { amountCents: 5000, idempotencyKey: 'b' }));
      const r1 = await provider.refund(refundOf(charged.chargeId, { amountCents: 100, idempotencyKey: 'r1' }));
      const r2 = await provider.refund(refundOf(charged.chargeId, { amountCents: 50, idempotencyKey: 'r2' }));
      const [charge, decline, ...rest] = await provider.chargesFor('ord_1');
      expect(rest).to.deep.equal([]);
      expect(charge).to.include({ id: charged.chargeId, amountCents: 300, charged: true });
      expect(charge!.refunds).to.deep.equal(
        server.ledger.refunds().map(({ id, amount, createdAt }) => ({ id, amountCents: amount, createdAt })),
      );
      expect(charge!.refunds.map((r) => [r.id, r.amountCents])).to.deep.equal([
        [r1.refundId, 100],
        [r2.refundId, 50],
      ]);
      expect(decline).to.include({ id: declined.chargeId, charged: false });
      expect(decline!.refunds).to.deep.equal([]);
    });

    it('checks balances and refunds on any contract server, by code and status, honouring its Retry-After', async () => {
      const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: unknown }[] = [];
      const json = { 'content-type': 'application/json' };
      const error = (code: string, message?: string) => JSON.stringify({ error: { code, message } });
      const answers: { status: number; headers: Record<string, string>; body: string }[] = [
        // GET /accounts/:customerId
        { status: 200, headers: json, body: JSON.stringify({ balance: 1234, currency: 'EUR', customerId: 'cus/1?x' }) },
        { status: 503, headers: { 'retry-after': '5' }, body: 'down' },
        { status: 200, headers: json, body: JSON.stringify({ balance: '1234', currency: 'EUR' }) },
        { status: 404, headers: { 'content-type': 'text/html' }, body: '<html>Not Found</html>' },
        { status: 404, headers: json, body: error('customer_not_found', 'who?') },
        // POST /refunds
        { status: 200, headers: json, body: JSON.stringify({ id: 're_1', refunded: true }) },
        { status: 409, headers: { ...json, 'retry-after': '3' }, body: error('idempotency_key_in_use') },
        { status: 409, headers: json, body: error('refund_exceeds_charge', 'only 100 left') },
        { status: 404, headers: json, body: error('charge_not_found') },
        // A refusal's code under another status than the contract's is not that refusal.
        { status: 409, headers: json, body: error('charge_not_found', 'odd') },
        { status: 422, headers: json, body: error('invalid_amount', 'no') },
        { status: 500, headers: {}, body: '' },
        { status: 200, headers: json, body: JSON.stringify({ id: 're_2' }) },
        { status: 429, headers: { 'retry-after': '2' }, body: '' },
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

      expect(await provider.account('cus/1?x')).to.deep.equal({ balanceCents: 1234, currency: 'EUR' });
      expect(seen[0]).to.deep.include({ method: 'GET', url: '/v1/accounts/cus%2F1%3Fx', body: undefined });
      expect(seen[0]!.headers['idempotency-key']).to.equal(undefined);
      const unavailable = await rejection(provider.account('cus_1'));
      expect(unavailable).to.be.instanceOf(NetworkError).and.include({ retryAfterMs: 5000 });
      expect((unavailable as Error).message).to.equal('payment provider answered 503: down');
      const malformed = await rejection(provider.account('cus_1'));
      expect(malformed).to.be.instanceOf(NetworkError);
      expect((malformed as Error).message).to.match(/to GET \/accounts with an unexpected body/);
      expect(await rejection(provider.account('cus_1'))).to.be.instanceOf(ProviderRejectedError).and.include({ status: 404, code: undefined });
      expect(await rejection(provider.account('cus_1'))).to.be.instanceOf(CustomerNotFoundError).and.include({ customerId: 'cus_1' });

      const refund = (i: number) => provider.refund(refundOf('ch_1', { amountCents: 100, idempotencyKey: `refund-${i}` }));
      expect(await refund(1)).to.deep.equal({ refundId: 're_1', refunded: true });
      expect(seen[5]).to.deep.include({ method: 'POST', url: '/v1/refunds', body: { chargeId: 'ch_1', amount: 100, reference: 'ord_1' } });
      expect(seen[5]!.headers['content-type']).to.equal('application/json');
      expect(await rejection(refund(2))).to.be.instanceOf(KeyInUseError).and.include({ idempotencyKey: 'refund-2', retryAfterMs: 3000 });
      const exceeds = await rejection(refund(3));
      expect(exceeds).to.be.instanceOf(RefundRefusedError).and.include({ code: 'refund_exceeds_charge' });
      expect((exceeds as Error).message).to.equal('payment provider refused the refund with refund_exceeds_charge: only 100 left');
      const notFound = await rejection(refund(4));
      expect(notFound).to.be.instanceOf(RefundRefusedError).and.include({ code: 'charge_not_found' });
      expect((notFound as Error).message).to.equal('payment provider refused the refund with charge_not_found');
      expect(await rejection(refund(5))).to.be.instanceOf(ProviderRejectedError).and.include({ status: 409, code: 'charge_not_found' });
      expect(await rejection(refund(6))).to.be.instanceOf(ProviderRejectedError).and.include({ status: 422, code: 'invalid_amount' });
      expect(await rejection(refund(7))).to.be.instanceOf(NetworkError).and.include({ retryAfterMs: undefined });
      const noRefunded = await rejection(refund(8));
      expect(noRefunded).to.be.instanceOf(NetworkError);
      expect((noRefunded as Error).message).to.match(/to POST \/refunds with an unexpected body/);
      expect(await rejection(refund(9))).to.be.instanceOf(NetworkError).and.include({ retryAfterMs: 2000 });
      expect(seen.slice(5).map((s) => s.headers['idempotency-key'])).to.deep.equal(Array.from({ length: 9 }, (_, i) => `refund-${i + 1}`));
    });
  });

  describe('behind the circuit breaker', () => {
    const log = createLogger(loadConfig({ LOG_LEVEL: 'silent' }), 'test');

    /** The HTTP provider for `server` behind a breaker that stays open a minute once open: longer than any test here. */
    function guarded(server: PaymentSandbox) {
      const provider = withCircuitBreaker(createHttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5000 }), { resetMs: 60_000, log });
      opened({ close: () => provider.shutdown() });
      return provider;
    }

    it('passes balance checks and refunds through, and their refusals leave the circuit closed', async () => {
      const server = await sandbox();
      const provider = guarded(server);
      const { chargeId } = await provider.charge(request('ord_1'));
      expect(await provider.account('cus_1')).to.deep.equal({ balanceCents: 700, currency: 'EUR' });
      expect(await provider.refund(refundOf(chargeId))).to.deep.equal({ refundId: server.ledger.refunds()[0]!.id, refunded: true });
      expect((await provider.chargesFor('ord_1'))[0]!.refunds).to.have.length(1);
      // Refusals are answers from a healthy provider, however many there are.
      for (let i = 0; i < 5; i += 1) {
        expect(await rejection(provider.refund(refundOf(chargeId, { idempotencyKey: `again-${i}` })))).to.be.instanceOf(RefundRefusedError);
        expect(await rejection(provider.account('cus_x'))).to.be.instanceOf(CustomerNotFoundError);
      }
      expect(provider.open).to.equal(false);
    });

    it('opens on refunds that get no usable answer, and then fails balance checks and refunds fast', async () => {
      const server = await sandbox({ rates: { serverError: 1 } });
      const provider = guarded(server);
      for (let i = 0; i < 3; i += 1) expect(await rejection(provider.refund(refundOf('ch_1')))).to.be.instanceOf(NetworkError);
      expect(provider.open).to.equal(true);
      // The provider has the one circuit: an outage seen by refunds holds back balance checks (and charges) too.
      expect(await rejection(provider.account('cus_1'))).to.be.instanceOf(CircuitOpenError).and.include({ dependency: 'payment provider', retryAfterMs: 60_000 });
      expect(await rejection(provider.refund(refundOf('ch_1')))).to.be.instanceOf(CircuitOpenError);
      expect(server.refundRequests).to.equal(3);
    });
  });
});
