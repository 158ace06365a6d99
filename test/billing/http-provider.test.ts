// The HTTP payment provider against the sandbox and against an independent server: answers, errors, lost answers, Retry-After.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { PaymentSandbox } from '../../scripts/sandboxes/payment-provider.js';
import { createHttpPaymentProvider } from '../../shared/billing/provider/http-provider.js';
import { CurrencyMismatchError, CustomerNotFoundError, NetworkError, type ChargeRequest } from '../../shared/billing/provider/provider.js';
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
    ];
    const server: Server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: JSON.parse(raw) });
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
    expect(seen.map((s) => s.headers['idempotency-key'])).to.deep.equal(['charge-inv_1', 'charge-inv_2', 'charge-inv_3', 'charge-inv_4']);
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
    expect(await invalid.json()).to.have.property('error').that.matches(/amount/);
    expect((await charge('k1', valid)).status).to.equal(200);
    expect((await charge('k2', { ...valid, reference: 'inv_2' })).status).to.equal(200);

    const listed = (await (await fetch(`${server.url}/charges?reference=inv_2`)).json()) as { data: { idempotencyKey: string }[] };
    expect(listed.data.map((e) => e.idempotencyKey)).to.deep.equal(['k2']);
    const all = (await (await fetch(`${server.url}/charges`)).json()) as { data: unknown[] };
    expect(all.data).to.have.length(2);
    expect((await fetch(`${server.url}/refunds`)).status).to.equal(404);
  });
});
