// The charge job: one provider call per attempt's key, PAID / dunning / FAILED recorded with a payment, never charged twice.
import type { QueueEvents } from 'bullmq';
import { expect } from 'chai';
import { jobIds } from '../../queues/jobs.js';
import { findInvoice } from '../../shared/invoices/store.js';
import { createBillingTestSystem, insertPendingInvoices, type BillingTestSystem } from '../helpers/billing.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';

describe('charging an invoice', () => {
  const opened = closedAfterEach();
  let t: BillingTestSystem;
  let events: QueueEvents;

  async function setUp(env: Record<string, string> = {}, balance?: number) {
    t = opened(await createBillingTestSystem(env, { balance }));
    events = await t.system.events('charge');
  }
  const db = () => t.system.ctx.db;
  const payments = (invoiceId: string) => db()('payments').select('*').where({ invoice_id: invoiceId }).orderBy('dunning_step');
  const charge = (invoiceId: string, jobId = jobIds.charge(invoiceId)) => t.system.ctx.queues.add('charge', 'charge', { invoiceId }, { jobId });

  it('charges a pending invoice once: PAID, a payment matching the ledger, a callback', async () => {
    await setUp();
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1, totalCents: 4_321, callbackUrl: 'http://127.0.0.1:9/hook', userId: t.operator.userId });
    t.system.startWorkers(['charge']);
    expect(await (await charge(id!)).waitUntilFinished(events, 10_000)).to.deep.equal({ paymentStatus: 'PAID' });

    const invoice = (await findInvoice(db(), id!))!;
    expect(invoice).to.include({ paymentStatus: 'PAID', paymentFailureReason: null });
    const ledger = t.sandbox.ledger.entries({ reference: id });
    expect(ledger).to.have.length(1);
    expect(ledger[0]).to.include({ charged: true, amount: 4_321, currency: 'EUR', customerId: t.customerId, idempotencyKey: `invoice-${id}-0` });
    const [payment, ...more] = await payments(id!);
    expect(more).to.have.length(0);
    expect(payment).to.include({ status: 'PAID', provider_charge_id: ledger[0]!.id, customer_id: t.customerId, user_id: t.operator.userId, currency: 'EUR' });
    expect(Number(payment.amount_cents)).to.equal(4_321);
    const messages = await db()('callback_messages').select('event_type', 'payload').where({ subject_id: id });
    expect(messages.map((m) => m.event_type)).to.deep.equal(['invoice.payment']);
    expect(JSON.parse(messages[0].payload).data).to.deep.include({ id, paymentStatus: 'PAID' });

    // Another job for the same invoice (a later run, a replayed DLQ job) changes nothing and calls nobody.
    const calls = t.sandbox.chargeRequests;
    expect(await (await charge(id!, 'again')).waitUntilFinished(events, 10_000)).to.deep.equal({ paymentStatus: 'PAID' });
    expect(t.sandbox.chargeRequests).to.equal(calls);
    expect(await payments(id!)).to.have.length(1);
  });

  it('asks the provider ledger when the answer is lost, and settles from it: charged once, one charge call', async () => {
    await setUp({ PAYMENT_PROVIDER_TIMEOUT_MS: '300' });
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1 });
    t.sandbox.setRates({ timeout: 1 });
    t.system.startWorkers(['charge']);
    const job = await charge(id!);
    // The provider charged and its answer never arrived; from now on it answers.
    await waitFor(() => t.sandbox.ledger.entries({ reference: id }).length === 1, { what: 'the first charge' });
    t.sandbox.setRates({});
    expect(await job.waitUntilFinished(events, 10_000)).to.deep.equal({ paymentStatus: 'PAID' });
    // The retry read the ledger rather than charging again: the key may be forgotten by then.
    expect(t.sandbox.chargeRequests).to.equal(1);
    expect(t.sandbox.ledger.entries({ reference: id })).to.have.length(1);
    expect(t.sandbox.ledger.getAccount(t.customerId)!.balance).to.equal(1_000_000_00 - 12_200);
    expect(await payments(id!)).to.have.length(1);
  });

  it('retries a balance too low on the dunning schedule with a new key each time, then FAILED', async () => {
    await setUp({ DUNNING_DAYS: '0.000002,0.000002' }, 0);
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1 });
    t.system.startWorkers(['charge']);
    const first = await charge(id!);
    const result = await first.waitUntilFinished(events, 10_000);
    expect(result.paymentStatus).to.equal('PENDING');
    expect(Date.parse(result.nextChargeAt)).to.be.greaterThan(Date.now() - 1000);

    const failed = await waitFor(async () => {
      const invoice = await findInvoice(db(), id!);
      return invoice?.paymentStatus === 'FAILED' && invoice;
    }, { what: 'FAILED after dunning' });
    expect(failed.paymentFailureReason).to.equal('insufficient balance: declined 3 times');
    const rows = await payments(id!);
    expect(rows.map((p) => [p.status, p.dunning_step, p.idempotency_key])).to.deep.equal([
      ['DECLINED', 0, `invoice-${id}-0`],
      ['DECLINED', 1, `invoice-${id}-1`],
      ['FAILED', 2, `invoice-${id}-2`],
    ]);
    expect(t.sandbox.ledger.entries({ reference: id }).map((e) => e.charged)).to.deep.equal([false, false, false]);
    expect(await t.system.ctx.queues.getJob('charge', jobIds.dunning(id!, 2))).to.not.equal(undefined);
  });

  it('charges at a later dunning attempt once the balance allows it', async () => {
    await setUp({ DUNNING_DAYS: '0.00002' }, 0);
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1, totalCents: 500 });
    t.system.startWorkers(['charge']);
    await (await charge(id!)).waitUntilFinished(events, 10_000);
    t.sandbox.ledger.setAccount(t.customerId, { balance: 800, currency: 'EUR' });
    await waitFor(async () => (await findInvoice(db(), id!))?.paymentStatus === 'PAID', { what: 'PAID at the second attempt' });
    expect((await payments(id!)).map((p) => p.status)).to.deep.equal(['DECLINED', 'PAID']);
    expect(t.sandbox.ledger.getAccount(t.customerId)!.balance).to.equal(300);
  });

  for (const [what, prepare, reason] of [
    ['an unknown customer', (b: BillingTestSystem) => b.sandbox.ledger.setAccount('someone-else', { balance: 0, currency: 'EUR' }), /no account for customer/],
    ['a currency mismatch', (b: BillingTestSystem) => b.sandbox.ledger.setAccount(b.customerId, { balance: 1_000_00, currency: 'USD' }), /is not in EUR/],
  ] as const) {
    it(`fails at once on ${what}, with the reason, in the DLQ`, async () => {
      await setUp();
      const customerId = what === 'an unknown customer' ? 'no-account' : t.customerId;
      prepare(t);
      const [id] = await insertPendingInvoices(db(), { customerId, count: 1 });
      t.system.startWorkers(['charge']);
      const job = await charge(id!);
      const error = await job.waitUntilFinished(events, 10_000).then(() => undefined, (err: Error) => err.message);
      expect(error).to.match(reason);
      const stored = (await t.system.ctx.queues.getJob('charge', job.id!))!;
      expect(await stored.getState()).to.equal('failed');
      expect(stored.attemptsMade).to.equal(1);
      const invoice = (await findInvoice(db(), id!))!;
      expect(invoice.paymentStatus).to.equal('FAILED');
      expect(invoice.paymentFailureReason).to.match(reason);
      expect((await payments(id!)).map((p) => p.status)).to.deep.equal(['FAILED']);
      expect(t.sandbox.chargeRequests).to.equal(1);
    });
  }

  it('lets one of two concurrent jobs for an invoice call the provider; the other finds it PAID', async () => {
    await setUp();
    t.sandbox.setLatency(300);
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1 });
    t.system.startWorkers(['charge']);
    const jobs = await Promise.all([charge(id!), charge(id!, 'twin')]);
    const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 10_000)));
    expect(results).to.deep.equal([{ paymentStatus: 'PAID' }, { paymentStatus: 'PAID' }]);
    expect(t.sandbox.chargeRequests).to.equal(1);
    expect(await payments(id!)).to.have.length(1);
  });

  it('leaves the invoice PENDING with the reason when the provider never answers, and a DLQ retry settles it', async () => {
    await setUp({ JOB_ATTEMPTS: 'charge=2' });
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1 });
    t.sandbox.setRates({ serverError: 1 });
    t.system.startWorkers(['charge']);
    const job = await charge(id!);
    await job.waitUntilFinished(events, 10_000).then(() => expect.fail('should fail'), () => undefined);
    const stuck = (await findInvoice(db(), id!))!;
    expect(stuck.paymentStatus).to.equal('PENDING');
    expect(stuck.paymentFailureReason).to.match(/^charge unresolved after 2 attempts/);
    expect(await payments(id!)).to.have.length(0);

    t.sandbox.setRates({});
    const completed = new Promise((resolve) => events.on('completed', ({ jobId }) => jobId === job.id && resolve(undefined)));
    await (await t.system.ctx.queues.getJob('charge', job.id!))!.retry();
    await completed;
    expect((await findInvoice(db(), id!))!.paymentStatus).to.equal('PAID');
    expect(t.sandbox.ledger.entries({ reference: id })).to.have.length(1);
  });
});
