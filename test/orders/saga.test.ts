// The order saga, path by path: finished, failed at the balance check or the charge, refused by the provider, refunded when fulfilment fails for good.
import { expect } from 'chai';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createOrdersTestSystem, type OrdersTestSystem } from '../helpers/orders.js';
import { addCustomer } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { Receiver } from '../helpers/receiver.js';

const statusesOf = (order: Record<string, unknown>) => (order.events as { to: string }[]).map((e) => e.to);

describe('the order saga', () => {
  const opened = closedAfterEach();
  let t: OrdersTestSystem;

  const start = async (...args: Parameters<typeof createOrdersTestSystem>) => {
    t = opened(await createOrdersTestSystem(...args));
    t.system.startWorkers(['orders', 'mail', 'callback']);
  };

  it('checks the balance, charges once, fulfils once, and finishes', async () => {
    await start();
    const placed = await t.place({ amount: '12.50' });
    expect(placed.status).to.equal('created');
    const order = await t.waitForStatus(placed.id, 'finished');
    expect(statusesOf(order)).to.deep.equal(['created', 'pendingPayment', 'awaitingPayment', 'awaitingFulfillment', 'finished']);
    expect(order.payment).to.include({ status: 'PAID' });
    expect(order.fulfilmentId).to.be.a('string');
    const charges = t.payments.ledger.entries({ reference: placed.id });
    expect(charges).to.have.length(1);
    expect(charges[0]).to.include({ amount: 1250, currency: 'EUR', charged: true });
    expect(t.fulfilment.fulfilments.filter((f) => f.orderId === placed.id)).to.have.length(1);
    expect(t.fulfilment.fulfilments[0]).to.include({ amount: '12.50', currency: 'EUR', customerId: t.customerId });
    expect(t.payments.ledger.refunds()).to.have.length(0);
  });

  it('fails an order the balance cannot pay, charges nothing and emails the customer', async () => {
    await start({}, { balance: 1000 });
    const placed = await t.place({ amount: '12.50' });
    const order = await t.waitForStatus(placed.id, 'failed');
    expect(statusesOf(order)).to.deep.equal(['created', 'pendingPayment', 'failed']);
    expect(order.reason).to.equal('insufficient balance');
    expect(order.payment).to.equal(null);
    expect(t.payments.ledger.entries()).to.have.length(0);
    const mail = await waitFor(() => t.mail.mails.find((m) => m.text.includes(placed.id)), { what: 'the order-failed mail' });
    expect(mail.to).to.deep.equal(['billing@rossi.example']);
    expect(mail.text).to.include('12.50').and.include('EUR').and.include('insufficient balance');
    await waitFor(async () => ((await t.read(placed.id)).mails as { status: string }[])[0]?.status === 'sent', { what: 'the mail recorded sent' });
    expect((await t.read(placed.id)).mails).to.have.length(1);
  });

  it('fails an order whose charge is declined, and emails the customer', async () => {
    await start({}, { payments: { rates: { insufficientBalance: 1 } } });
    const placed = await t.place();
    const order = await t.waitForStatus(placed.id, 'failed');
    expect(statusesOf(order)).to.deep.equal(['created', 'pendingPayment', 'awaitingPayment', 'failed']);
    expect(order.payment).to.include({ status: 'FAILED', reason: 'insufficient balance' });
    await waitFor(() => t.mail.mails.find((m) => m.text.includes(placed.id)), { what: 'the order-failed mail' });
    expect(t.fulfilment.requests).to.equal(0);
  });

  it('fails an order whose customer the provider does not know, or in another currency, with the reason and no mail', async () => {
    await start();
    const unknown = await addCustomer(t.system.ctx.db);
    const dollars = await addCustomer(t.system.ctx.db);
    t.payments.ledger.setAccount(dollars, { balance: 1_000_00, currency: 'USD' });
    const a = await t.place({ customerId: unknown });
    const b = await t.place({ customerId: dollars });
    expect((await t.waitForStatus(a.id, 'failed')).reason).to.match(/no account for customer/);
    expect((await t.waitForStatus(b.id, 'failed')).reason).to.match(/USD, not EUR/);
    expect(t.mail.mails).to.have.length(0);
    expect(t.payments.ledger.entries()).to.have.length(0);
  });

  it('fails an order the provider refuses at the charge (the balance check passed), with the reason', async () => {
    await start({}, { payments: { rates: { unknownCustomer: 1 } } });
    const placed = await t.place();
    const order = await t.waitForStatus(placed.id, 'failed');
    expect(statusesOf(order)).to.deep.equal(['created', 'pendingPayment', 'awaitingPayment', 'failed']);
    expect(order.reason).to.match(/no account/);
    expect(order.payment).to.include({ status: 'FAILED' });
  });

  it('refunds exactly once when the fulfilment service refuses the order', async () => {
    await start({}, { fulfilment: { rates: { refuse: 1 } } });
    const placed = await t.place({ amount: '40.00' });
    const order = await t.waitForStatus(placed.id, 'refunded');
    expect(statusesOf(order)).to.deep.equal(['created', 'pendingPayment', 'awaitingPayment', 'awaitingFulfillment', 'refunded']);
    expect(order.refund).to.include({ id: order.refundId });
    expect((order.refund as { reason: string }).reason).to.match(/refused/);
    expect(order.payment).to.include({ status: 'REFUNDED' });
    const [charge] = t.payments.ledger.entries({ reference: placed.id });
    const refunds = t.payments.ledger.refunds({ reference: placed.id });
    expect(refunds).to.have.length(1);
    expect(refunds[0]).to.include({ chargeId: charge!.id, amount: 4000, id: order.refundId });
    expect(t.fulfilment.fulfilments).to.have.length(0);
  });

  it('refunds once when fulfilment keeps failing until the attempts run out', async () => {
    await start({ JOB_ATTEMPTS: 'orders=3' }, { fulfilment: { rates: { failure: 1 } } });
    const placed = await t.place();
    const order = await t.waitForStatus(placed.id, 'refunded');
    expect((order.refund as { reason: string }).reason).to.match(/fulfilment failed after 3 attempts/);
    expect(t.fulfilment.requests).to.equal(3);
    expect(t.payments.ledger.refunds({ reference: placed.id })).to.have.length(1);
  });

  it('retries fulfilment through an outage and finishes without a refund', async () => {
    await start({}, { fulfilment: { rates: { failure: 1 } } });
    const placed = await t.place();
    await waitFor(() => t.fulfilment.requests >= 2, { what: 'two failed fulfilment requests' });
    t.fulfilment.setRates({});
    await t.waitForStatus(placed.id, 'finished');
    expect(t.payments.ledger.refunds()).to.have.length(0);
    expect(t.fulfilment.fulfilments).to.have.length(1);
  });

  it('posts an order.status callback for every status change', async () => {
    const receiver = opened(await Receiver.start());
    await start();
    const placed = await t.place({ callbackUrl: `http://127.0.0.1:${receiver.port}/hooks` });
    await t.waitForStatus(placed.id, 'finished');
    await waitFor(() => receiver.requests.length >= 4, { what: 'four callbacks' });
    const bodies = receiver.requests.map((r) => JSON.parse(r.body) as { type: string; data: { id: string; status: string } });
    expect(bodies.every((b) => b.type === 'order.status' && b.data.id === placed.id)).to.equal(true);
    expect(bodies.map((b) => b.data.status)).to.have.members(['pendingPayment', 'awaitingPayment', 'awaitingFulfillment', 'finished']);
    expect(receiver.requests[0]!.headers['webhook-signature']).to.match(/^v1,/);
  });
});
