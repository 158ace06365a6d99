// SdI notifications move a sent invoice to its verdict; unknown invoices and impossible moves are recorded as invalid.
import type { QueueEvents } from 'bullmq';
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { transitionInvoice } from '../../shared/invoices/store.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

describe('SdI notifications', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let customerId: string;
  let auth: string;
  let events: QueueEvents;

  beforeEach(async () => {
    system = opened(await createTestSystem());
    customerId = await addCustomer(system.ctx.db);
    ({ auth } = await addUser(system.ctx.db, 'operator'));
    events = await system.events('invoice-save');
    system.startWorkers(['invoice-save']);
  });

  async function finished(jobId: string) {
    const job = await system.ctx.queues.get('invoice-save').getJob(jobId);
    return job!.waitUntilFinished(events, 10_000);
  }

  /** An invoice saved and (as the sdi-send step will do) marked SENT. */
  async function sentInvoice(): Promise<{ id: string; number: string }> {
    const body = invoiceBody(customerId);
    const res = await request(system.app).post('/v1/invoices').set('Authorization', auth).send(body).expect(202);
    await finished(jobIds.invoiceSave(res.body.id));
    await transitionInvoice(system.ctx.db, res.body.id, 'INTERNAL_INVOICE_SENT', { actor: actors.worker('test') });
    return { id: res.body.id, number: body.number };
  }

  const notify = (body: object) => request(system.app).post('/v1/sdi/notifications').set('Authorization', auth).send(body);

  for (const [status, expected] of [
    ['DELIVERED', 'INTERNAL_INVOICE_DELIVERED'],
    ['RC', 'INTERNAL_INVOICE_DELIVERED'],
    ['NS', 'INTERNAL_INVOICE_DISCARDED'],
    ['MC', 'INTERNAL_INVOICE_NOT_DELIVERED'],
  ] as const) {
    it(`moves a sent invoice to ${expected} on ${status}`, async () => {
      const invoice = await sentInvoice();
      const res = await notify({ customerId, invoiceNumber: invoice.number, status }).expect(202);
      expect(res.body.status).to.equal('RECEIVED');
      expect(await finished(jobIds.sdiNotification(res.body.id))).to.deep.equal({ outcome: 'applied' });
      const read = await request(system.app).get(`/v1/invoices/${invoice.id}`).set('Authorization', auth).expect(200);
      expect(read.body.status).to.equal(expected);
      expect(read.body.events.at(-1)).to.include({ actor: 'sdi', to: expected });
      const stored = await request(system.app).get(res.body.links.self).set('Authorization', auth).expect(200);
      expect(stored.body).to.include({ outcome: 'applied', invoiceId: invoice.id });
    });
  }

  it('keeps the SdI error list of a discarded invoice', async () => {
    const invoice = await sentInvoice();
    const errors = [{ code: '00404', description: 'Fattura duplicata' }];
    const res = await notify({ customerId, invoiceNumber: invoice.number, status: 'DISCARDED', errors }).expect(202);
    await finished(jobIds.sdiNotification(res.body.id));
    const read = await request(system.app).get(`/v1/invoices/${invoice.id}`).set('Authorization', auth).expect(200);
    expect(read.body.events.at(-1).details).to.deep.equal({ notificationId: res.body.id, errors });
  });

  it('records a notification for an unknown invoice as invalid', async () => {
    const res = await notify({ customerId, invoiceNumber: 'NOPE-1', status: 'DELIVERED' }).expect(202);
    expect(await finished(jobIds.sdiNotification(res.body.id))).to.deep.equal({ outcome: 'invalid' });
    const stored = await request(system.app).get(res.body.links.self).set('Authorization', auth).expect(200);
    expect(stored.body).to.include({ outcome: 'invalid', invoiceId: null });
    expect(stored.body.reason).to.contain('NOPE-1');
  });

  it('records a verdict that contradicts a final one as invalid', async () => {
    const invoice = await sentInvoice();
    await finished(jobIds.sdiNotification((await notify({ customerId, invoiceNumber: invoice.number, status: 'RC' })).body.id));
    const late = await notify({ customerId, invoiceNumber: invoice.number, status: 'NS' }).expect(202);
    expect(await finished(jobIds.sdiNotification(late.body.id))).to.deep.equal({ outcome: 'invalid' });
    const read = await request(system.app).get(`/v1/invoices/${invoice.id}`).set('Authorization', auth).expect(200);
    expect(read.body.status).to.equal('INTERNAL_INVOICE_DELIVERED');
  });

  it('waits for a verdict that overtakes the send, and applies it once the invoice is SENT', async () => {
    const body = invoiceBody(customerId);
    const accepted = await request(system.app).post('/v1/invoices').set('Authorization', auth).send(body).expect(202);
    await finished(jobIds.invoiceSave(accepted.body.id));
    const res = await notify({ customerId, invoiceNumber: body.number, status: 'RC' }).expect(202);
    const job = await system.ctx.queues.get('invoice-save').getJob(jobIds.sdiNotification(res.body.id));
    // The first attempt finds the invoice not yet SENT and schedules a retry.
    await waitFor(async () => ((await system.ctx.queues.get('invoice-save').getJob(job!.id!))?.attemptsMade ?? 0) >= 1, { what: 'a first attempt' });
    await transitionInvoice(system.ctx.db, accepted.body.id, 'INTERNAL_INVOICE_SENT', { actor: actors.worker('test') });
    expect(await job!.waitUntilFinished(events, 10_000)).to.deep.equal({ outcome: 'applied' });
  });

  it('accepts only the statuses and codes of the spec', async () => {
    const res = await notify({ customerId, invoiceNumber: '1', status: 'LOST' }).expect(400);
    expect(res.body.error.details[0].field).to.equal('status');
  });
});
