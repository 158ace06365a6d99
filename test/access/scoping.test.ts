// A client sees only the customers its user is linked to, and their invoices; operators see everything.
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { insertPayment } from '../../shared/billing/payments.js';
import { newId } from '../../shared/platform/ids.js';
import { insertPendingInvoices } from '../helpers/billing.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

describe('scoping by customer', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let mine: string;
  let theirs: string;
  let client: { userId: string; auth: string };
  let operator: { userId: string; auth: string };

  beforeEach(async () => {
    system = opened(await createTestSystem());
    mine = await addCustomer(system.ctx.db);
    theirs = await addCustomer(system.ctx.db);
    client = await addUser(system.ctx.db, 'client', [mine]);
    operator = await addUser(system.ctx.db, 'operator');
  });

  const get = (path: string, auth: string) => request(system.app).get(path).set('Authorization', auth);
  const submit = async (customerId: string) =>
    (await request(system.app).post('/v1/invoices').set('Authorization', operator.auth).send(invoiceBody(customerId)).expect(202)).body.id as string;

  async function saveAll(ids: string[]) {
    const events = await system.events('invoice-save');
    system.startWorkers(['invoice-save']);
    for (const id of ids) await (await system.ctx.queues.get('invoice-save').getJob(jobIds.invoiceSave(id)))!.waitUntilFinished(events, 10_000);
  }

  it('lists and reads only linked customers', async () => {
    const list = await get('/v1/customers', client.auth).expect(200);
    expect(list.body.data.map((c: { id: string }) => c.id)).to.deep.equal([mine]);
    expect(list.body.nextCursor).to.equal(null);
    await get(`/v1/customers/${mine}`, client.auth).expect(200);
    await get(`/v1/customers/${theirs}`, client.auth).expect(404);
    const all = await get('/v1/customers', operator.auth).expect(200);
    expect(all.body.data.map((c: { id: string }) => c.id)).to.have.members([mine, theirs]);
  });

  it('hides other customers’ invoices, accepted or saved', async () => {
    const ownId = await submit(mine);
    const otherId = await submit(theirs);
    await get(`/v1/invoices/${otherId}`, client.auth).expect(404);
    await get(`/v1/invoices/${ownId}`, client.auth).expect(200);

    await saveAll([ownId, otherId]);
    await get(`/v1/invoices/${otherId}`, client.auth).expect(404);
    const list = await get('/v1/invoices', client.auth).expect(200);
    expect(list.body.data.map((i: { id: string }) => i.id)).to.deep.equal([ownId]);
    const filtered = await get(`/v1/invoices?customerId=${theirs}`, client.auth).expect(200);
    expect(filtered.body.data).to.deep.equal([]);
    const everything = await get('/v1/invoices', operator.auth).expect(200);
    expect(everything.body.data).to.have.length(2);
  });

  it('refuses notifications for customers the client is not linked to', async () => {
    await request(system.app)
      .post('/v1/sdi/notifications')
      .set('Authorization', client.auth)
      .send({ customerId: theirs, invoiceNumber: '2026/1', status: 'DELIVERED' })
      .expect(403);
  });

  it('pages with a cursor and filters by status, customer and issue date', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await submit(i < 3 ? mine : theirs));
    await request(system.app)
      .post('/v1/invoices')
      .set('Authorization', operator.auth)
      .send(invoiceBody('nobody', { issueDate: '2025-06-15', dueDate: '2025-07-15' }))
      .expect(202)
      .then((r) => ids.push(r.body.id));
    await saveAll(ids);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await get(`/v1/invoices?limit=4${cursor ? `&cursor=${cursor}` : ''}`, operator.auth).expect(200);
      seen.push(...page.body.data.map((i: { id: string }) => i.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).to.have.length(6);
    expect(new Set(seen).size).to.equal(6);

    const invalid = await get('/v1/invoices?status=INTERNAL_INVOICE_INVALID', operator.auth).expect(200);
    expect(invalid.body.data).to.have.length(1);
    const old = await get('/v1/invoices?from=2025-01-01&to=2025-12-31', operator.auth).expect(200);
    expect(old.body.data.map((i: { id: string }) => i.id)).to.deep.equal([ids[5]]);
    const pending = await get(`/v1/invoices?paymentStatus=PENDING&customerId=${mine}`, operator.auth).expect(200);
    expect(pending.body.data).to.have.length(3);
    await get('/v1/invoices?status=WHATEVER', operator.auth).expect(400);
    await get('/v1/invoices?limit=501', operator.auth).expect(400);
  });

  /** A payment as the charge handlers record it, dated `createdAt`. */
  async function addPayment(customerId: string, createdAt: string): Promise<{ id: string; paymentRefId: string }> {
    const id = newId();
    await insertPayment(system.ctx.db, {
      id,
      kind: 'one-off',
      customerId,
      userId: operator.userId,
      amountCents: 500,
      currency: 'EUR',
      status: 'PAID',
      idempotencyKey: `payment-${id}`,
    });
    await system.ctx.db('payments').where({ id }).update({ created_at: createdAt, updated_at: createdAt });
    const row = await system.ctx.db('payments').first('payment_ref_id').where({ id });
    return { id, paymentRefId: String(row.payment_ref_id) };
  }

  it('shows a client only the payments of its linked customers', async () => {
    const own1 = await addPayment(mine, '2026-11-01T10:00:00.000Z');
    const foreign1 = await addPayment(theirs, '2026-11-02T10:00:00.000Z');
    const own2 = await addPayment(mine, '2026-11-03T10:00:00.000Z');
    const foreign2 = await addPayment(theirs, '2026-11-04T10:00:00.000Z');
    const ids = async (query: string, auth: string) => {
      const res = await get(`/v1/payments${query}`, auth).expect(200);
      expect(res.body.nextCursor).to.equal(null);
      return res.body.data.map((p: { id: string }) => p.id);
    };

    expect(await ids('', client.auth)).to.deep.equal([own2.id, own1.id]);
    expect(await ids(`?customerId=${theirs}`, client.auth)).to.deep.equal([]);
    expect(await ids(`?customerId=${mine}`, client.auth)).to.deep.equal([own2.id, own1.id]);
    expect(await ids(`?paymentRefId=${foreign1.paymentRefId}`, client.auth)).to.deep.equal([]);
    expect(await ids(`?userId=${operator.userId}&from=2026-11-02`, client.auth)).to.deep.equal([own2.id]);
    // Pages of one: the client's pages hold its payments only, and end when they do.
    const first = await get('/v1/payments?limit=1', client.auth).expect(200);
    expect(first.body.data.map((p: { id: string }) => p.id)).to.deep.equal([own2.id]);
    const second = await get(`/v1/payments?limit=1&cursor=${first.body.nextCursor}`, client.auth).expect(200);
    expect(second.body.data.map((p: { id: string }) => p.id)).to.deep.equal([own1.id]);
    expect(second.body.nextCursor).to.equal(null);

    await get(`/v1/payments/${own1.id}`, client.auth).expect(200);
    const hidden = await get(`/v1/payments/${foreign1.id}`, client.auth).expect(404);
    expect(hidden.body.error.code).to.equal('not_found');

    expect(await ids('', operator.auth)).to.deep.equal([foreign2.id, own2.id, foreign1.id, own1.id]);
    expect(await ids(`?customerId=${theirs}`, operator.auth)).to.deep.equal([foreign2.id, foreign1.id]);
    const seen = await get(`/v1/payments/${foreign1.id}`, operator.auth).expect(200);
    expect(seen.body.customerId).to.equal(theirs);
  });

  it('refuses a client’s one-off payment for a customer it is not linked to', async () => {
    const pay = (customerId: string, auth: string) =>
      request(system.app).post('/v1/payments').set('Authorization', auth).send({ customerId, amount: '12.50', currency: 'EUR' });
    const refused = await pay(theirs, client.auth).expect(403);
    expect(refused.body.error.code).to.equal('forbidden');
    await pay(theirs, client.auth).set('Idempotency-Key', 'foreign-1').expect(403);
    // Refused whether or not the customer exists: a client cannot probe for other customers' ids.
    await pay('cust-nobody', client.auth).expect(403);
    expect(await system.ctx.db('payments').count({ n: '*' }).then((r) => Number(r[0]!.n))).to.equal(0);
    expect(await system.ctx.queues.get('charge').getJobCounts('waiting', 'delayed')).to.deep.equal({ waiting: 0, delayed: 0 });

    const own = await pay(mine, client.auth).expect(202);
    expect(own.body.customerId).to.equal(mine);
    const forOperator = await pay(theirs, operator.auth).expect(202);
    expect(forOperator.body.customerId).to.equal(theirs);
    // The client's list shows its own payment, not the operator's payment for the other customer.
    const list = await get('/v1/payments', client.auth).expect(200);
    expect(list.body.data.map((p: { id: string }) => p.id)).to.deep.equal([own.body.id]);
  });

  it('lets only operators start billing runs, and shows a client the counts of its own customers', async () => {
    const refused = await request(system.app).post('/v1/billing/runs').set('Authorization', client.auth).send({ cutoffDate: '2026-11-30' }).expect(403);
    expect(refused.body.error.code).to.equal('forbidden');
    expect(await system.ctx.db('billing_runs').count({ n: '*' }).then((r) => Number(r[0]!.n))).to.equal(0);

    const own = await insertPendingInvoices(system.ctx.db, { customerId: mine, count: 3 });
    const foreign = await insertPendingInvoices(system.ctx.db, { customerId: theirs, count: 2 });
    const started = await request(system.app).post('/v1/billing/runs').set('Authorization', operator.auth).send({ cutoffDate: '2026-11-30' }).expect(202);
    const runId: string = started.body.id;
    expect(started.headers.location).to.equal(`/v1/billing/runs/${runId}`);
    expect(started.body.status).to.equal('queued');

    // Only the billing worker: the run enqueues its charges, and with no charge worker the invoices stay PENDING.
    system.startWorkers(['billing']);
    const run = (auth: string) => get(`/v1/billing/runs/${runId}`, auth).expect(200).then((r) => r.body);
    const charging = await waitFor(async () => {
      const view = await run(operator.auth);
      return view.status === 'charging' && view;
    }, { what: 'the run to enqueue its charges' });
    expect(charging.counts).to.deep.equal({ selected: 5, enqueued: 5, paid: 0, failed: 0, retrying: 0, pending: 5, awaitingSdi: 0 });

    const seenByClient = await run(client.auth);
    expect(seenByClient).to.include({ id: runId, status: 'charging', cutoffDate: '2026-11-30' });
    expect(seenByClient.counts).to.deep.equal({ selected: 3, enqueued: 3, paid: 0, failed: 0, retrying: 0, pending: 3, awaitingSdi: 0 });
    const listed = await get('/v1/billing/runs', client.auth).expect(200);
    expect(listed.body.data.map((r: { id: string }) => r.id)).to.deep.equal([runId]);
    expect(listed.body.data[0].counts).to.deep.equal(seenByClient.counts);
    expect((await get('/v1/billing/runs', operator.auth).expect(200)).body.data[0].counts).to.deep.equal(charging.counts);

    // Live counts stay scoped as invoices settle.
    await system.ctx.db('invoices').where({ id: own[0] }).update({ payment_status: 'PAID' });
    await system.ctx.db('invoices').whereIn('id', foreign).update({ payment_status: 'FAILED' });
    expect((await run(client.auth)).counts).to.deep.equal({ selected: 3, enqueued: 3, paid: 1, failed: 0, retrying: 0, pending: 2, awaitingSdi: 0 });
    expect((await run(operator.auth)).counts).to.deep.equal({ selected: 5, enqueued: 5, paid: 1, failed: 2, retrying: 0, pending: 2, awaitingSdi: 0 });
    await get(`/v1/billing/runs/${newId()}`, client.auth).expect(404);
  });
});
