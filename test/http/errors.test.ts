// Every client error is JSON { error: { code, message, details } }: 400, 401, 403, 404, 413.
import { expect } from 'chai';
import request from 'supertest';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('API errors', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let customerId: string;
  let operator: { auth: string };

  beforeEach(async () => {
    system = opened(await createTestSystem());
    customerId = await addCustomer(system.ctx.db);
    operator = await addUser(system.ctx.db, 'operator');
  });

  const post = (path: string, auth = operator.auth) => request(system.app).post(path).set('Authorization', auth);

  it('answers 400 with every failing field', async () => {
    const body = invoiceBody(customerId, { issueDate: '2026-02-30', currency: 'euro' });
    body.lines[2] = { description: 'Esente', quantity: 1, unitPrice: '2.00', vatRate: 0 } as (typeof body.lines)[number];
    const res = await post('/v1/invoices').send(body).expect(400);
    expect(res.body.error.code).to.equal('invalid_request');
    expect(res.body.error.details.map((d: { field: string }) => d.field)).to.have.members(['issueDate', 'currency', 'lines.2.natura']);
  });

  it('refuses text the SdI cannot carry', async () => {
    const res = await post('/v1/invoices').send(invoiceBody(customerId, { number: 'FATT-№1' })).expect(400);
    expect(res.body.error.details[0]).to.include({ field: 'number' });
  });

  it('answers 400 for a body that is not JSON, and for a bad cursor', async () => {
    const res = await post('/v1/invoices').set('content-type', 'application/json').send('{"customerId":').expect(400);
    expect(res.body.error.code).to.equal('invalid_json');
    const cursor = await request(system.app).get('/v1/invoices?cursor=nonsense').set('Authorization', operator.auth).expect(400);
    expect(cursor.body.error.details[0].field).to.equal('cursor');
  });

  it('answers 401 without a key or with an unknown one', async () => {
    const none = await request(system.app).get('/v1/invoices').expect(401);
    expect(none.body.error.code).to.equal('unauthorized');
    expect(none.headers['www-authenticate']).to.equal('Bearer');
    await request(system.app).get('/v1/invoices').set('Authorization', 'Bearer ak_not-a-key').expect(401);
    await request(system.app).get('/v1/invoices').set('Authorization', 'Basic Zm9vOmJhcg==').expect(401);
  });

  it('answers 403 when a client acts for a customer it is not linked to, or for operators only', async () => {
    const client = await addUser(system.ctx.db, 'client', [await addCustomer(system.ctx.db)]);
    const res = await post('/v1/invoices', client.auth).send(invoiceBody(customerId)).expect(403);
    expect(res.body.error.code).to.equal('forbidden');
    await post('/v1/customers', client.auth).send({}).expect(403);
  });

  it('answers 404 for unknown routes and resources', async () => {
    const route = await request(system.app).get('/v1/nothing-here').set('Authorization', operator.auth).expect(404);
    expect(route.body.error.code).to.equal('not_found');
    await request(system.app).get('/v1/invoices/6a1f4a3e-0000-5000-8000-000000000000').set('Authorization', operator.auth).expect(404);
    await request(system.app).get('/nowhere').expect(404);
  });

  it('answers 413 for a body over 1 MB', async () => {
    const huge = { ...invoiceBody(customerId), padding: 'x'.repeat(1_100_000) };
    const res = await post('/v1/invoices').send(huge).expect(413);
    expect(res.body.error.code).to.equal('payload_too_large');
  });

  it('answers 400 for a callback URL pointing inside the network', async () => {
    const strict = opened(await createTestSystem({ CALLBACK_ALLOWED_HOSTS: 'hooks.example' }));
    const key = await addUser(strict.ctx.db, 'operator');
    const customer = await addCustomer(strict.ctx.db);
    for (const callbackUrl of ['http://localhost:8080/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:10.0.0.1]/', 'ftp://example.com/']) {
      const res = await request(strict.app).post('/v1/invoices').set('Authorization', key.auth).send(invoiceBody(customer, { callbackUrl })).expect(400);
      expect(res.body.error.details[0].field, callbackUrl).to.equal('callbackUrl');
    }
  });

  it('never shows a stack trace', async () => {
    const res = await post('/v1/invoices').set('content-type', 'application/json').send('{').expect(400);
    expect(JSON.stringify(res.body)).to.not.match(/at .*\.ts:\d+/);
  });
});
