// An SMTP outage: retries, then NOT_SENT with the job kept in the DLQ and the client told; once SMTP is back, a retry sends it once.
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { Receiver } from '../helpers/receiver.js';
import { createSdiTestSystem, type SdiTestSystem } from '../helpers/sdi.js';
import { waitFor } from '../helpers/wait.js';

describe('SMTP outage', () => {
  const opened = closedAfterEach();
  let sdi: SdiTestSystem;
  let receiver: Receiver;
  beforeEach(async () => {
    sdi = opened(await createSdiTestSystem({ JOB_ATTEMPTS: 'sdi-send=3', SMTP_BREAKER_RESET_MS: '50' }, { smtpRunning: false }));
    receiver = opened(await Receiver.start());
  });

  it('ends NOT_SENT in the DLQ after its attempts, and a retry once SMTP is back sends it exactly once', async () => {
    const { system } = sdi;
    const customerId = await addCustomer(system.ctx.db);
    const client = await addUser(system.ctx.db, 'client', [customerId]);
    const accepted = await request(system.app)
      .post('/v1/invoices')
      .set('Authorization', client.auth)
      .send(invoiceBody(customerId, { callbackUrl: receiver.url() }))
      .expect(202);
    const id: string = accepted.body.id;
    const read = async () => (await request(system.app).get(`/v1/invoices/${id}`).set('Authorization', client.auth).expect(200)).body;

    system.startWorkers(['invoice-save', 'sdi-send', 'callback']);
    const notSent = await waitFor(async () => {
      const invoice = await read();
      return invoice.status === 'INTERNAL_INVOICE_NOT_SENT' && invoice;
    }, { what: 'NOT_SENT' });
    expect(notSent.events.at(-1).details).to.include({ attempts: 3 });
    expect(notSent.events.at(-1).details.reason).to.match(/SMTP|circuit/);

    // The DLQ: the job stays in the failed set, with every attempt spent. (NOT_SENT is recorded by the last
    // attempt itself, a moment before BullMQ moves the job to the failed set.)
    const job = await waitFor(async () => {
      const found = await system.ctx.queues.getJob('sdi-send', jobIds.sdiSend(id));
      return (await found?.getState()) === 'failed' && found;
    }, { what: 'the job in the failed set' });
    expect(job.attemptsMade).to.equal(3);

    // The client hears NOT_SENT on its callback.
    await waitFor(() => receiver.requests.some((r) => JSON.parse(r.body).data.status === 'INTERNAL_INVOICE_NOT_SENT'), { what: 'the NOT_SENT callback' });

    // SMTP is back; an operator retries the failed job (as Bull Board's retry button does).
    await sdi.startSmtp();
    await job.retry('failed');
    const delivered = await waitFor(async () => {
      const invoice = await read();
      return invoice.status === 'INTERNAL_INVOICE_DELIVERED' && invoice;
    }, { what: 'DELIVERED after the retry' });

    expect(sdi.simulator()!.files).to.have.length(1);
    expect(delivered.events.filter((e: { to: string }) => e.to === 'INTERNAL_INVOICE_SENT')).to.have.length(1);
    expect(delivered.events.map((e: { to: string }) => e.to).slice(-3)).to.deep.equal([
      'INTERNAL_INVOICE_NOT_SENT',
      'INTERNAL_INVOICE_SENT',
      'INTERNAL_INVOICE_DELIVERED',
    ]);
  });
});
