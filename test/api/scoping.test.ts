// A client sees only the customers its user is linked to, and their invoices; operators see everything.
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('scoping by customer', () => {
  let system: TestSystem;
  let mine: string;
  let theirs: string;
  let client: { auth: string };
  let operator: { auth: string };

  beforeEach(async () => {
    system = await createTestSystem();
    mine = await addCustomer(system.ctx.db);
    theirs = await addCustomer(system.ctx.db);
    client = await addUser(system.ctx.db, 'client', [mine]);
    operator = await addUser(system.ctx.db, 'operator');
  });
  afterEach(async () => {
    await system.close();
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
});
