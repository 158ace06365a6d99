// The slice end to end: an invoice with a callbackUrl goes in, a worker saves it, the client hears of it, signed.
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { Receiver } from '../helpers/receiver.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

describe('invoice status callbacks', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let receiver: Receiver;
  beforeEach(async () => {
    system = opened(await createTestSystem());
    receiver = opened(await Receiver.start());
  });

  it('tells the submitting client the saved status, signed with its own secret', async () => {
    const customerId = await addCustomer(system.ctx.db);
    const client = await addUser(system.ctx.db, 'client', [customerId]);
    const { body: secret } = await request(system.app).get('/v1/webhooks/secret').set('Authorization', client.auth).expect(200);
    const body = invoiceBody(customerId, { callbackUrl: receiver.url() });
    const accepted = await request(system.app).post('/v1/invoices').set('Authorization', client.auth).send(body).expect(202);

    system.startWorkers(['invoice-save', 'callback']);
    const [delivery] = await receiver.waitForRequests(1);
    const payload = new Webhook(secret.secret).verify(delivery!.body, delivery!.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    expect(payload.type).to.equal('invoice.status');
    expect(payload.data).to.include({ id: accepted.body.id, number: body.number, customerId, status: 'INTERNAL_INVOICE_TOBE_SENT', kind: 'internal' });

    const read = await waitFor(async () => {
      const res = await request(system.app).get(`/v1/invoices/${accepted.body.id}`).set('Authorization', client.auth).expect(200);
      return res.body.callbacks[0]?.status === 'delivered' && res.body;
    });
    expect(read.callbacks).to.have.length(1);
    expect(read.callbacks[0].deliveries).to.have.length(1);
    expect(read.callbacks[0].deliveries[0]).to.include({ attempt: 1, statusCode: 204, outcome: 'delivered' });
  });
});
