// A provider that forgets idempotency keys: after a lost answer the ledger is asked first, by the retry or by maintenance/reconcile, so nothing is charged twice.
import { expect } from 'chai';
import request from 'supertest';
import type { Knex } from 'knex';
import { findInvoice } from '../../shared/invoices/store.js';
import { createBillingTestSystem, insertPendingInvoices, type BillingTestSystem } from '../helpers/billing.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';

describe('a provider that forgets idempotency keys', () => {
  const opened = closedAfterEach();
  let t: BillingTestSystem;
  const db = (): Knex => t.system.ctx.db;

  /** A charge whose answer is lost: the provider charges, the connection dies, and then it forgets the key. */
  async function loseTheAnswer(env: Record<string, string>) {
    t = opened(await createBillingTestSystem({ PAYMENT_PROVIDER_TIMEOUT_MS: '300', ...env }));
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1 });
    t.sandbox.setRates({ timeout: 1 });
    t.system.startWorkers(['charge']);
    const events = await t.system.events('charge');
    const job = await t.system.ctx.queues.add('charge', 'charge', { invoiceId: id! }, { jobId: `charge-${id}` });
    await waitFor(() => t.sandbox.ledger.entries({ reference: id }).length === 1, { what: 'the first charge' });
    t.sandbox.forgetKeys();
    t.sandbox.setRates({});
    return { id: id!, job, events };
  }

  it('settles a retried charge from the ledger: no second charge, though the key is forgotten', async () => {
    const { id, job, events } = await loseTheAnswer({});
    expect(await job.waitUntilFinished(events, 10_000)).to.deep.equal({ paymentStatus: 'PAID' });
    expect(t.sandbox.chargeRequests).to.equal(1);
    expect(t.sandbox.ledger.entries({ reference: id })).to.have.length(1);
    const payment = await db()('payments').first('provider_charge_id', 'status').where({ invoice_id: id });
    expect(payment).to.deep.equal({ provider_charge_id: t.sandbox.ledger.entries({ reference: id })[0]!.id, status: 'PAID' });
  });

  it('settles a charge its job gave up on with maintenance/reconcile, never by charging; a DLQ retry and the next run then charge nothing', async () => {
    const { id, job, events } = await loseTheAnswer({ JOB_ATTEMPTS: 'charge=1' });
    await job.waitUntilFinished(events, 10_000).then(() => expect.fail('the job should give up'), () => undefined);
    const unknown = (await findInvoice(db(), id))!;
    expect(unknown.paymentStatus).to.equal('PENDING');
    expect(unknown.paymentFailureReason).to.match(/^charge unresolved after 1 attempts/);

    t.system.startWorkers(['maintenance']);
    const maintenance = await t.system.events('maintenance');
    const reconcile = await t.system.ctx.queues.add('maintenance', 'reconcile', {});
    expect(await reconcile.waitUntilFinished(maintenance, 10_000)).to.deep.equal({ settled: 1, notCharged: 0, busy: 0 });
    expect((await findInvoice(db(), id))!.paymentStatus).to.equal('PAID');

    // The DLQ retry and a new run find it PAID.
    const failed = (await t.system.ctx.queues.getJob('charge', job.id!))!;
    await failed.retry();
    await waitFor(async () => (await failed.getState()) === 'completed', { what: 'the DLQ retry to complete' });
    t.system.startWorkers(['billing']);
    const run = (await request(t.system.app).post('/v1/billing/runs').set('Authorization', t.operator.auth).send({}).expect(202)).body;
    await waitFor(async () => (await request(t.system.app).get(`/v1/billing/runs/${run.id}`).set('Authorization', t.operator.auth)).body.status === 'completed', {
      what: 'the run to complete',
    });
    expect(t.sandbox.chargeRequests).to.equal(1);
    expect(t.sandbox.ledger.entries({ reference: id })).to.have.length(1);
  });

  it('finds nothing to settle when the lost call never reached the provider, and leaves the charge owed', async () => {
    t = opened(await createBillingTestSystem({ JOB_ATTEMPTS: 'charge=1' }));
    const [id] = await insertPendingInvoices(db(), { customerId: t.customerId, count: 1 });
    t.sandbox.setRates({ serverError: 1 });
    t.system.startWorkers(['charge', 'maintenance']);
    const events = await t.system.events('charge');
    const job = await t.system.ctx.queues.add('charge', 'charge', { invoiceId: id! }, { jobId: `charge-${id}` });
    await job.waitUntilFinished(events, 10_000).then(() => expect.fail('the job should give up'), () => undefined);

    const maintenance = await t.system.events('maintenance');
    const reconcile = await t.system.ctx.queues.add('maintenance', 'reconcile', {});
    expect(await reconcile.waitUntilFinished(maintenance, 10_000)).to.deep.equal({ settled: 0, notCharged: 1, busy: 0 });
    const row = await db()('invoices').first('payment_status', 'charge_calls').where({ id });
    expect(row.payment_status).to.equal('PENDING');
    expect(Number(row.charge_calls)).to.equal(0);
    expect(t.sandbox.ledger.entries({ reference: id })).to.have.length(0);
  });
});
