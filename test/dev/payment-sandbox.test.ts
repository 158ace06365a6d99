// The sandbox payment provider over HTTP: an error code on every refusal, keys in flight, the ledger's shape, refunds and the ledger showing them, and `npm run sandbox:payments`.
import { expect } from 'chai';
import { DEMO_ACCOUNTS } from '../../scripts/demo-data.js';
import { SandboxLedger } from '../../scripts/sandboxes/payment-ledger.js';
import { PaymentSandbox, type PaymentSandboxOptions } from '../../scripts/sandboxes/payment-provider.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { runStandalone } from '../helpers/standalone.js';
import { waitFor } from '../helpers/wait.js';

interface Reply {
  status: number;
  body: any;
}

describe('payment sandbox over HTTP', () => {
  const opened = closedAfterEach();

  async function sandbox(options: PaymentSandboxOptions = {}): Promise<PaymentSandbox> {
    return opened(await PaymentSandbox.start({ accounts: { cus_1: { balance: 1000, currency: 'EUR' } }, ...options }));
  }

  async function call(server: PaymentSandbox, method: string, path: string, body?: unknown, key?: string): Promise<Reply> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: key === undefined ? {} : { 'idempotency-key': key },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  const charge = (server: PaymentSandbox, key: string, overrides: Record<string, unknown> = {}) =>
    call(server, 'POST', '/charges', { customerId: 'cus_1', amount: 300, currency: 'EUR', reference: 'ord_1', ...overrides }, key);
  const refund = (server: PaymentSandbox, key: string, body: Record<string, unknown>) => call(server, 'POST', '/refunds', { reference: 'ord_1', ...body }, key);

  it('answers every refusal as { error: { code, message } } with its status', async () => {
    const server = await sandbox();
    const codes = async (reply: Promise<Reply>) => {
      const { status, body } = await reply;
      expect(body.error.message, JSON.stringify(body)).to.be.a('string').that.is.not.empty;
      return [status, body.error.code];
    };
    expect(await codes(charge(server, 'k1', { customerId: 'cus_x' }))).to.deep.equal([404, 'customer_not_found']);
    expect(await codes(call(server, 'GET', '/accounts/cus_x'))).to.deep.equal([404, 'customer_not_found']);
    expect(await codes(charge(server, 'k2', { currency: 'USD' }))).to.deep.equal([409, 'currency_mismatch']);
    expect(await codes(charge(server, 'k3', { amount: -1 }))).to.deep.equal([400, 'invalid_request']);
    expect(await codes(call(server, 'POST', '/charges', { customerId: 'cus_1', amount: 300, currency: 'EUR', reference: 'r' }))).to.deep.equal([400, 'invalid_request']);
    expect(await codes(call(server, 'POST', '/charges', '{not json', 'k4'))).to.deep.equal([400, 'invalid_request']);
    expect(await codes(call(server, 'PUT', '/accounts/cus_2', { balance: 1.5, currency: 'EUR' }))).to.deep.equal([400, 'invalid_request']);
    expect(await codes(call(server, 'GET', '/accounts/%E0%A4%A'))).to.deep.equal([400, 'invalid_request']);
    expect(await codes(refund(server, 'k5', { chargeId: '', amount: 1 }))).to.deep.equal([400, 'invalid_request']);
    // An unknown route is not an unknown customer: a client with a wrong base URL must be able to tell.
    expect(await codes(call(server, 'POST', '/v2/charges', {}, 'k6'))).to.deep.equal([404, 'not_found']);
    expect(await codes(call(server, 'DELETE', '/charges'))).to.deep.equal([405, 'method_not_allowed']);
    expect(await codes(call(server, 'PATCH', '/refunds'))).to.deep.equal([405, 'method_not_allowed']);
    expect(await codes(call(server, 'POST', '/charges', JSON.stringify({ pad: 'x'.repeat(70_000) }), 'k7'))).to.deep.equal([413, 'payload_too_large']);
    server.setRates({ serverError: 1 });
    expect(await codes(charge(server, 'k8'))).to.deep.equal([503, 'server_error']);
    expect(await codes(refund(server, 'k9', { chargeId: 'ch_x', amount: 1 }))).to.deep.equal([503, 'server_error']);
    expect(server.ledger.entries()).to.deep.equal([]);
  });

  it('answers 409 idempotency_key_in_use while a request with the key is in its latency wait, for charges and refunds apart', async () => {
    const server = await sandbox({ latencyMs: 300 });
    const first = charge(server, 'k1');
    await waitFor(() => server.chargeRequests === 1, { what: 'the first charge request' });
    const busy = await charge(server, 'k1');
    expect(busy).to.deep.equal({
      status: 409,
      body: { error: { code: 'idempotency_key_in_use', message: 'a charge request with this Idempotency-Key is still being processed; retry later' } },
    });
    // Another key, and a refund with the same key, are not held up by it.
    const other = charge(server, 'k2');
    const refundSameKey = refund(server, 'k1', { chargeId: 'ch_x', amount: 1 });
    expect((await first).status).to.equal(200);
    expect((await other).status).to.equal(200);
    expect((await refundSameKey).body.error.code).to.equal('charge_not_found');
    expect(await charge(server, 'k1')).to.deep.equal(await first);
    expect(server.chargeRequests).to.equal(4);
    expect(server.ledger.entries()).to.have.length(2);
  });

  it('lists the ledger as { data: [{ id, reference, amount, currency, charged, createdAt, refunded, refunds }] }, by reference or whole', async () => {
    const server = await sandbox();
    const { body: ok } = await charge(server, 'k1', { reference: 'inv 1&x' });
    const { body: declined } = await charge(server, 'k2', { reference: 'inv_2', amount: 5000 });
    const { body: one } = await call(server, 'GET', `/charges?reference=${encodeURIComponent('inv 1&x')}`);
    expect(one.data).to.have.length(1);
    expect(one.data[0]).to.deep.include({ id: ok.id, reference: 'inv 1&x', amount: 300, currency: 'EUR', charged: true, refunded: 0, refunds: [] });
    expect(Number.isNaN(Date.parse(one.data[0].createdAt))).to.equal(false);
    const { body: all } = await call(server, 'GET', '/charges');
    expect(all.data.map((e: { id: string; charged: boolean }) => [e.id, e.charged])).to.deep.equal([
      [ok.id, true],
      [declined.id, false],
    ]);
    expect((await call(server, 'GET', '/charges?reference=nothing')).body).to.deep.equal({ data: [] });
  });

  it('refunds once per key, restores the balance, refuses what it cannot refund, and lists refunds by reference', async () => {
    const server = await sandbox();
    const { body: charged } = await charge(server, 'charge-1');
    const { body: declined } = await charge(server, 'charge-2', { amount: 5000, reference: 'ord_2' });
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(700);

    const first = await refund(server, 'refund-1', { chargeId: charged.id, amount: 300 });
    expect(first.status).to.equal(200);
    expect(first.body).to.have.all.keys('id', 'refunded');
    expect(first.body.refunded).to.equal(true);
    expect(await refund(server, 'refund-1', { chargeId: charged.id, amount: 300 })).to.deep.equal(first);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000);

    const exceeds = await refund(server, 'refund-2', { chargeId: charged.id, amount: 1 });
    expect([exceeds.status, exceeds.body.error.code]).to.deep.equal([409, 'refund_exceeds_charge']);
    const notCaptured = await refund(server, 'refund-3', { chargeId: declined.id, amount: 1, reference: 'ord_2' });
    expect([notCaptured.status, notCaptured.body.error.code]).to.deep.equal([409, 'charge_not_captured']);
    const unknown = await refund(server, 'refund-4', { chargeId: 'ch_nope', amount: 1 });
    expect([unknown.status, unknown.body.error.code]).to.deep.equal([404, 'charge_not_found']);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000);
    expect(server.refundRequests).to.equal(5);

    const { body: listed } = await call(server, 'GET', '/refunds?reference=ord_1');
    expect(listed.data).to.have.length(1);
    expect(listed.data[0]).to.include({ id: first.body.id, chargeId: charged.id, reference: 'ord_1', amount: 300, currency: 'EUR', idempotencyKey: 'refund-1' });
    expect((await call(server, 'GET', '/refunds')).body.data).to.have.length(1);
    expect((await call(server, 'GET', '/refunds?reference=ord_2')).body).to.deep.equal({ data: [] });
  });

  it('shows under each charge in GET /charges what was refunded of it, oldest first, and the balance it gave back', async () => {
    const server = await sandbox();
    const { body: charged } = await charge(server, 'charge-1');
    const { body: declined } = await charge(server, 'charge-2', { amount: 5000 });
    const { body: other } = await charge(server, 'charge-3', { reference: 'ord_2' });
    const { body: r1 } = await refund(server, 'refund-1', { chargeId: charged.id, amount: 100 });
    const { body: r2 } = await refund(server, 'refund-2', { chargeId: charged.id, amount: 200 });
    // A refusal leaves nothing under the charge.
    expect((await refund(server, 'refund-3', { chargeId: charged.id, amount: 1 })).status).to.equal(409);

    const { body: listed } = await call(server, 'GET', '/charges?reference=ord_1');
    expect(listed.data.map((e: { id: string; refunded: number; refunds: { id: string; amount: number }[] }) => [e.id, e.refunded, e.refunds.map((r) => [r.id, r.amount])])).to.deep.equal([
      [charged.id, 300, [[r1.id, 100], [r2.id, 200]]],
      [declined.id, 0, []],
    ]);
    // The contract's fields, and the refund's own time.
    const stored = server.ledger.refunds();
    expect(listed.data[0].refunds).to.deep.equal(stored.map(({ id, amount, createdAt }) => ({ id, amount, createdAt })));
    const { body: all } = await call(server, 'GET', '/charges');
    expect(all.data.map((e: { id: string; refunded: number }) => [e.id, e.refunded])).to.deep.equal([
      [charged.id, 300],
      [declined.id, 0],
      [other.id, 0],
    ]);
    // GET /refunds still lists them on their own, and the account answers as the contract says.
    expect((await call(server, 'GET', '/refunds?reference=ord_1')).body.data.map((r: { id: string }) => r.id)).to.deep.equal([r1.id, r2.id]);
    expect(await call(server, 'GET', '/accounts/cus_1')).to.deep.equal({ status: 200, body: { balance: 700, currency: 'EUR' } });
  });

  it('refunds a lost answer once: the retry with the key gets the first refund', async () => {
    const server = await sandbox({ timeoutHoldMs: 100 });
    const { body: charged } = await charge(server, 'charge-1');
    server.setRates({ timeout: 1 });
    const lost = await fetch(`${server.url}/refunds`, {
      method: 'POST',
      headers: { 'idempotency-key': 'refund-1' },
      body: JSON.stringify({ chargeId: charged.id, amount: 300, reference: 'ord_1' }),
    }).catch((err: unknown) => err);
    expect(lost).to.be.instanceOf(Error);
    server.setRates({});
    const retry = await refund(server, 'refund-1', { chargeId: charged.id, amount: 300 });
    expect(retry.body).to.deep.equal({ id: server.ledger.refunds()[0]!.id, refunded: true });
    expect(server.ledger.refunds()).to.have.length(1);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000);
  });

  it('forgets keys after forgetKeysAfterMs on a ledger it was given, and with forgetKeys()', async () => {
    const ledger = new SandboxLedger();
    const server = await sandbox({ ledger, forgetKeysAfterMs: 0 });
    expect(server.ledger).to.equal(ledger);
    const a = await charge(server, 'k1');
    const b = await charge(server, 'k1');
    expect(b.body.id).not.to.equal(a.body.id);
    // Kept from now on, b's answer included.
    server.forgetKeysAfter(undefined);
    expect(await charge(server, 'k1')).to.deep.equal(b);
    server.forgetKeys();
    expect((await charge(server, 'k1')).body.id).not.to.equal(b.body.id);
    expect(server.ledger.entries()).to.have.length(3);
    expect(server.ledger.getAccount('cus_1')!.balance).to.equal(1000 - 3 * 300);
  });

  it('runs on its own with `npm run sandbox:payments`: the demo accounts, one line, and exit 0 on SIGTERM', async () => {
    const { line, stop } = await runStandalone('scripts/sandboxes/payment-provider.ts', opened);
    const url = /listening on (http:\/\/\S+?),/.exec(line)?.[1];
    expect(url, line).to.be.a('string');
    for (const [customerId, account] of Object.entries(DEMO_ACCOUNTS)) {
      expect(await (await fetch(`${url}/accounts/${customerId}`)).json()).to.deep.equal(account);
    }
    expect(await stop()).to.deep.equal([0, null]);
  });
});
