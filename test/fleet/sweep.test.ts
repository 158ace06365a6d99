// maintenance/sweep queues again, under its own job id, every piece of work the database owes whose job Redis no longer has; and leaves existing jobs alone.
import { expect } from 'chai';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { createBillingRun } from '../../shared/billing/runs.js';
import { enqueueCallback } from '../../shared/callbacks/messages.js';
import { insertPayment } from '../../shared/billing/payments.js';
import { newId } from '../../shared/platform/ids.js';
import { createBillingTestSystem, insertPendingInvoices, type BillingTestSystem } from '../helpers/billing.js';
import { closedAfterEach } from '../helpers/lifecycle.js';

describe('maintenance sweep', () => {
  const opened = closedAfterEach();
  let t: BillingTestSystem;

  it('re-drives sends, charges (due and dunning), one-off payments, callbacks and runs whose jobs are gone, and upserts the schedulers', async () => {
    t = opened(await createBillingTestSystem());
    const { db, queues } = t.system.ctx;
    const runId = newId();
    await createBillingRun(db, { id: runId, cutoffDate: '2026-12-01', requestedBy: actors.scheduler, jobId: 'a-job-redis-lost' });
    const [toSend] = await insertPendingInvoices(db, { customerId: t.customerId, count: 1, status: 'INTERNAL_INVOICE_TOBE_SENT' });
    const [due, dunning, untaken] = await insertPendingInvoices(db, { customerId: t.customerId, count: 3 });
    await db('invoices').whereIn('id', [due, dunning]).update({ billing_run_id: runId });
    const nextChargeAt = new Date(Date.now() + 3_600_000).toISOString();
    await db('invoices').where({ id: dunning }).update({ dunning_step: 1, next_charge_at: nextChargeAt });
    const paymentId = newId();
    await insertPayment(db, { id: paymentId, kind: 'one-off', customerId: t.customerId, userId: null, amountCents: 500, currency: 'EUR', status: 'PENDING', idempotencyKey: paymentId });
    const messageId = await enqueueCallback(t.system.ctx, {
      userId: t.operator.userId,
      url: 'https://example.com/hook',
      type: 'invoice.status',
      data: {},
      resource: { type: 'invoice', id: due! },
      eventKey: 'x',
    });
    // Redis loses every job of this system, and the schedulers with them (the test Redis is shared: only our prefix).
    const keys = await queues.connection.keys(`${queues.prefix}:*`);
    if (keys.length > 0) await queues.connection.del(...keys);

    t.system.startWorkers(['maintenance']);
    const events = await t.system.events('maintenance');
    const sweep = await queues.add('maintenance', 'sweep', {}, { jobId: 'sweep-test' });
    expect(await sweep.waitUntilFinished(events, 10_000)).to.deep.equal({ sends: 1, notifications: 0, callbacks: 1, charges: 2, oneOffPayments: 1, orderSteps: 0, mails: 0, collections: 0, runs: 1 });

    expect(await queues.getJob('sdi-send', jobIds.sdiSend(toSend!))).to.not.equal(undefined);
    expect(await queues.getJob('charge', jobIds.charge(due!))).to.not.equal(undefined);
    const dunningJob = (await queues.getJob('charge', jobIds.dunning(dunning!, 1)))!;
    expect(await dunningJob.getState()).to.equal('delayed');
    expect(await queues.getJob('charge', jobIds.charge(untaken!)), 'an invoice no run took waits for the next run').to.equal(undefined);
    expect(await queues.getJob('charge', jobIds.oneOffCharge(paymentId))).to.not.equal(undefined);
    expect(await queues.getJob('callback', jobIds.callback(messageId))).to.not.equal(undefined);
    expect(await queues.getJob('billing', jobIds.billingRun(runId))).to.not.equal(undefined);
    expect(await queues.get('billing').getJobScheduler('billing-run')).to.not.equal(undefined);

    // A second sweep finds every job in place: nothing is added twice.
    const counts = async () => (await Promise.all(['sdi-send', 'charge', 'callback', 'billing'].map((q) => queues.get(q as 'charge').count()))).join();
    const before = await counts();
    const again = await queues.add('maintenance', 'sweep', {}, { jobId: 'sweep-test-again' });
    expect((await again.waitUntilFinished(events, 10_000)).runs).to.equal(0);
    expect(await counts()).to.equal(before);
  });
});
