// The first vertical slice: POST an invoice, the worker saves it, it waits for the SdI as TOBE_SENT.
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('invoice intake', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let customerId: string;
  let operator: { auth: string; userId: string };

  beforeEach(async () => {
    system = opened(await createTestSystem());
    customerId = await addCustomer(system.ctx.db);
    operator = await addUser(system.ctx.db, 'operator');
  });

  const post = (path: string, body: object, auth = operator.auth) =>
    request(system.app).post(path).set('Authorization', auth).send(body);
  const get = (path: string, auth = operator.auth) => request(system.app).get(path).set('Authorization', auth);

  it('accepts an invoice with 202 and shows it as NEW until a worker saves it', async () => {
    const res = await post('/v1/invoices', invoiceBody(customerId)).expect(202);
    expect(res.body).to.include({ status: 'INTERNAL_INVOICE_NEW' });
    expect(res.body.links.self).to.equal(`/v1/invoices/${res.body.id}`);

    const pending = await get(`/v1/invoices/${res.body.id}`).expect(200);
    expect(pending.body).to.include({ id: res.body.id, status: 'INTERNAL_INVOICE_NEW', customerId });
    expect(pending.body.amount).to.deep.equal({ value: '1429.28', currency: 'EUR' });
    expect(pending.body.events).to.have.length(1);
    expect(pending.body.processing.state).to.equal('waiting');
  });

  it('saves it, moves it to TOBE_SENT with an sdi-send job and records every status change', async () => {
    const events = await system.events('invoice-save');
    const res = await post('/v1/invoices', invoiceBody(customerId)).expect(202);
    system.startWorkers(['invoice-save']);
    const job = await system.ctx.queues.get('invoice-save').getJob(jobIds.invoiceSave(res.body.id));
    expect(await job!.waitUntilFinished(events, 10_000)).to.deep.equal({ status: 'INTERNAL_INVOICE_TOBE_SENT' });

    const saved = await get(`/v1/invoices/${res.body.id}`).expect(200);
    expect(saved.body).to.include({ status: 'INTERNAL_INVOICE_TOBE_SENT', paymentStatus: 'PENDING', kind: 'internal' });
    expect(saved.body.lines).to.have.length(3);
    expect(saved.body.events.map((e: { from: string; to: string; actor: string }) => [e.from, e.to, e.actor])).to.deep.equal([
      [null, 'INTERNAL_INVOICE_NEW', `user:${operator.userId}`],
      ['INTERNAL_INVOICE_NEW', 'INTERNAL_INVOICE_TOBE_SENT', 'worker:invoice-save'],
    ]);
    const send = await system.ctx.queues.get('sdi-send').getJob(jobIds.sdiSend(res.body.id));
    expect(send?.name).to.equal('send');
    expect(send?.data).to.deep.equal({ invoiceId: res.body.id });
  });

  it('answers a resubmission with the same id and creates nothing', async () => {
    const events = await system.events('invoice-save');
    const body = invoiceBody(customerId);
    const first = await post('/v1/invoices', body).expect(202);
    const again = await post('/v1/invoices', body).expect(202);
    expect(again.body.id).to.equal(first.body.id);
    expect(await system.ctx.queues.get('invoice-save').getJobCounts('waiting')).to.deep.equal({ waiting: 1 });

    system.startWorkers(['invoice-save']);
    const queue = system.ctx.queues.get('invoice-save');
    await (await queue.getJob(jobIds.invoiceSave(first.body.id)))!.waitUntilFinished(events, 10_000);
    const count = async (table: string) => Number((await system.ctx.db(table).count({ n: '*' }).first())?.n);
    const after = await post('/v1/invoices', { ...body, lines: body.lines.slice(0, 1) }).expect(202);
    expect(after.body.id).to.equal(first.body.id);

    // Once the first job has been removed from Redis, a resubmission runs again and finds the invoice saved.
    await queue.remove(jobIds.invoiceSave(first.body.id));
    await post('/v1/invoices', body).expect(202);
    expect(await (await queue.getJob(jobIds.invoiceSave(first.body.id)))!.waitUntilFinished(events, 10_000)).to.deep.equal({
      status: 'INTERNAL_INVOICE_TOBE_SENT',
    });
    expect(await count('invoices')).to.equal(1);
    expect(await count('invoice_lines')).to.equal(3);
    expect(await count('invoice_events')).to.equal(2);
    const read = await get(`/v1/invoices/${first.body.id}`).expect(200);
    expect(read.body.status).to.equal('INTERNAL_INVOICE_TOBE_SENT');
  });

  it('marks an invoice for an unknown customer INVALID and sends nothing', async () => {
    const events = await system.events('invoice-save');
    const res = await post('/v1/invoices', invoiceBody('no-such-customer')).expect(202);
    system.startWorkers(['invoice-save']);
    const job = await system.ctx.queues.get('invoice-save').getJob(jobIds.invoiceSave(res.body.id));
    await job!.waitUntilFinished(events, 10_000);
    const saved = await get(`/v1/invoices/${res.body.id}`).expect(200);
    expect(saved.body).to.include({ status: 'INTERNAL_INVOICE_INVALID', paymentStatus: null });
    expect(saved.body.events[1].details).to.deep.equal({ reason: 'unknown customer no-such-customer' });
    expect(await system.ctx.queues.get('sdi-send').getJob(jobIds.sdiSend(res.body.id))).to.equal(undefined);
  });

  it('saves an external invoice as EXTERNAL_INVOICE with no payment status', async () => {
    const events = await system.events('invoice-save');
    const body = { ...invoiceBody(customerId), supplier: { name: 'Fornitore Srl', vatNumber: 'IT00000000000' } };
    const res = await post('/v1/invoices/external', body).expect(202);
    system.startWorkers(['invoice-save']);
    const job = await system.ctx.queues.get('invoice-save').getJob(jobIds.invoiceSave(res.body.id));
    await job!.waitUntilFinished(events, 10_000);
    const saved = await get(`/v1/invoices/${res.body.id}`).expect(200);
    expect(saved.body).to.include({ status: 'EXTERNAL_INVOICE', kind: 'external', paymentStatus: null });
    expect(saved.body.supplier).to.deep.equal({ name: 'Fornitore Srl', vatNumber: 'IT00000000000' });
    const internal = await post('/v1/invoices', { ...invoiceBody(customerId), number: body.number }).expect(202);
    expect(internal.body.id).to.not.equal(res.body.id);
  });
});
