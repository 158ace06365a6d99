// Crash points of the saga: whatever write a process died after, with no job left in Redis, the sweep drives the order to its end, moving money once.
import { expect } from 'chai';
import { findOrder } from '../../shared/orders/store.js';
import { awaitPayment, failOrder, INSUFFICIENT_BALANCE, settleOrderCharge, startCheckout } from '../../shared/orders/saga.js';
import { recordRefundOwed } from '../../shared/orders/store.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createOrdersTestSystem, type OrdersTestSystem } from '../helpers/orders.js';
import { waitFor } from '../helpers/wait.js';

describe('the order saga after a crash', () => {
  const opened = closedAfterEach();
  let t: OrdersTestSystem;

  /** Places an order with no worker running, then lets Redis lose every job of this system, as a crash would leave it. */
  async function placeAndLoseJobs(): Promise<string> {
    const { id } = await t.place({ amount: '30.00' });
    await loseJobs();
    return id;
  }

  async function loseJobs(): Promise<void> {
    const { queues } = t.system.ctx;
    const keys = await queues.connection.keys(`${queues.prefix}:*`);
    if (keys.length > 0) await queues.connection.del(...keys);
  }

  /** Workers start, and one sweep runs: the only thing that knows of the order now is the database. */
  async function sweep(): Promise<void> {
    t.system.startWorkers(['orders', 'mail', 'callback', 'maintenance']);
    const events = await t.system.events('maintenance');
    const job = await t.system.ctx.queues.add('maintenance', 'sweep', {}, { jobId: 'sweep-after-crash' });
    await job.waitUntilFinished(events, 10_000);
  }

  const order = async (id: string) => (await findOrder(t.system.ctx.db, id))!;

  /** Checkout got as far as the charge call: the order awaits payment, and the provider charged it under the order's key. Returns the charge id. */
  async function chargedAtProvider(id: string): Promise<string> {
    const { db } = t.system.ctx;
    await startCheckout(db, id);
    await awaitPayment(db, await order(id), { balanceCents: 1_000_000_00 });
    const o = await order(id);
    const answer = t.payments.ledger.charge({ customerId: o.customerId, amount: o.amountCents, currency: o.currency, reference: id }, `order-${id}`);
    return (answer.body as { id: string }).id;
  }

  /** The charge call was made and its answer lost: only the count of calls says so. */
  const answerLost = async (id: string) => void (await t.system.ctx.db('payments').where({ id: (await order(id)).paymentId! }).update({ charge_calls: 1 }));

  /** The charge recorded: the order is paid and awaits fulfilment. */
  const recordCharge = async (id: string, chargeId: string) => void (await settleOrderCharge(t.system.ctx.db, await order(id), { charged: true, chargeId }, 'charge'));
  const charged = (id: string) => t.payments.ledger.entries({ reference: id }).filter((e) => e.charged);

  beforeEach(async () => {
    t = opened(await createOrdersTestSystem());
  });

  it('died after writing the order, before queueing its checkout: the sweep checks it out', async () => {
    const id = await placeAndLoseJobs();
    await sweep();
    await t.waitForStatus(id, 'finished');
    expect(charged(id)).to.have.length(1);
  });

  it('died after pendingPayment: the sweep checks it out from there', async () => {
    const id = await placeAndLoseJobs();
    await startCheckout(t.system.ctx.db, id);
    await sweep();
    await t.waitForStatus(id, 'finished');
    expect(charged(id)).to.have.length(1);
  });

  it('died mid-charge (the provider charged, the answer was lost, and it forgot the key): the ledger settles it, nothing is charged twice', async () => {
    const id = await placeAndLoseJobs();
    await chargedAtProvider(id);
    await answerLost(id);
    t.payments.forgetKeys();
    await sweep();
    const done = await t.waitForStatus(id, 'finished');
    expect(charged(id)).to.have.length(1);
    expect((done.events as { to: string; details: { from?: string } }[]).find((e) => e.to === 'awaitingFulfillment')!.details.from).to.equal('the provider ledger');
  });

  it('left an unknown charge behind (its job in the DLQ): maintenance/reconcile settles it from the ledger and the order goes on', async () => {
    const id = await placeAndLoseJobs();
    const { queues } = t.system.ctx;
    await chargedAtProvider(id);
    await answerLost(id);
    t.system.startWorkers(['orders', 'mail', 'callback', 'maintenance']);
    const events = await t.system.events('maintenance');
    const job = await queues.add('maintenance', 'reconcile', {}, { jobId: 'reconcile-after-crash' });
    expect(await job.waitUntilFinished(events, 10_000)).to.deep.equal({ settled: 1, notCharged: 0, busy: 0 });
    await t.waitForStatus(id, 'finished');
    expect(charged(id)).to.have.length(1);
  });

  it('died after the charge was recorded, before queueing fulfilment: the sweep fulfils it once', async () => {
    const id = await placeAndLoseJobs();
    await recordCharge(id, await chargedAtProvider(id));
    await sweep();
    await t.waitForStatus(id, 'finished');
    expect(charged(id)).to.have.length(1);
    expect(t.fulfilment.fulfilments.filter((f) => f.orderId === id)).to.have.length(1);
  });

  it('died after fulfilment failed for good and the refund was owed, before queueing it: the sweep refunds once', async () => {
    t.fulfilment.setRates({ refuse: 1 });
    const id = await placeAndLoseJobs();
    const { db } = t.system.ctx;
    await recordCharge(id, await chargedAtProvider(id));
    await recordRefundOwed(db, id, 'fulfilment service refused the order');
    await loseJobs();
    await sweep();
    await t.waitForStatus(id, 'refunded');
    expect(t.payments.ledger.refunds({ reference: id })).to.have.length(1);
    expect(t.fulfilment.requests, 'a refund owed is not fulfilled again').to.equal(0);
  });

  it('died mid-refund (refunded, answer lost, key forgotten): the ledger says so, and nothing is refunded twice', async () => {
    const id = await placeAndLoseJobs();
    const { db } = t.system.ctx;
    const chargeId = await chargedAtProvider(id);
    await recordCharge(id, chargeId);
    await recordRefundOwed(db, id, 'fulfilment service refused the order');
    t.payments.ledger.refund({ chargeId, amount: (await order(id)).amountCents, reference: id }, `refund-${id}-${chargeId}`);
    await db('orders').where({ id }).update({ refund_calls: 1 });
    t.payments.forgetKeys();
    await loseJobs();
    await sweep();
    await t.waitForStatus(id, 'refunded');
    expect(t.payments.ledger.refunds({ reference: id })).to.have.length(1);
  });

  it('died after failing the order, before queueing the customer mail: the sweep sends it', async () => {
    const id = await placeAndLoseJobs();
    const { db } = t.system.ctx;
    await startCheckout(db, id);
    await failOrder(db, await order(id), 'pendingPayment', INSUFFICIENT_BALANCE, { notifyCustomer: true });
    await sweep();
    await waitFor(() => t.mail.mails.find((m) => m.text.includes(id)), { what: 'the order-failed mail' });
  });
});
