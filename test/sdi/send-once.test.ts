// No double send: once the SMTP server accepted the file, no later run of the job, or of another job, mails it again.
import { expect } from 'chai';
import request from 'supertest';
import { findInvoice } from '../../shared/invoices/store.js';
import { findSdiFileByInvoice } from '../../shared/sdi/files.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createSdiTestSystem, type SdiTestSystem } from '../helpers/sdi.js';
import { waitFor } from '../helpers/wait.js';

describe('sending to the SdI once', () => {
  const opened = closedAfterEach();
  let sdi: SdiTestSystem;
  beforeEach(async () => {
    sdi = opened(await createSdiTestSystem({}, { simulatorDelayMs: 600_000 }));
  });

  it('does not mail the file again when the job runs after the message was accepted', async () => {
    const { system } = sdi;
    const customerId = await addCustomer(system.ctx.db);
    const client = await addUser(system.ctx.db, 'client', [customerId]);
    const { body } = await request(system.app).post('/v1/invoices').set('Authorization', client.auth).send(invoiceBody(customerId)).expect(202);
    const sendEvents = await system.events('sdi-send');
    system.startWorkers(['invoice-save', 'sdi-send']);
    // The first run is over once the invoice is SENT (the simulator is told to take its time answering).
    await waitFor(async () => (await findInvoice(system.ctx.db, body.id))?.status === 'INTERNAL_INVOICE_SENT');
    await waitFor(() => sdi.simulator()!.files.length === 1 || undefined);
    const first = (await findSdiFileByInvoice(system.ctx.db, body.id))!;

    // A worker that died after the SMTP server's 250 but before the status moved: the invoice is still TOBE_SENT.
    await system.ctx.db('invoices').where({ id: body.id }).update({ status: 'INTERNAL_INVOICE_TOBE_SENT' });
    const rerun = await system.ctx.queues.add('sdi-send', 'send', { invoiceId: body.id }, { jobId: `send-again-${body.id}` });
    const result = await rerun.waitUntilFinished(sendEvents, 10_000);
    expect(result).to.deep.equal({ status: 'INTERNAL_INVOICE_SENT', fileName: first.fileName });

    // And a job for an invoice already sent does nothing at all.
    const again = await system.ctx.queues.add('sdi-send', 'send', { invoiceId: body.id }, { jobId: `send-third-${body.id}` });
    expect(await again.waitUntilFinished(sendEvents, 10_000)).to.deep.equal({ status: 'INTERNAL_INVOICE_SENT' });

    expect(sdi.simulator()!.files).to.have.length(1);
    const after = (await findSdiFileByInvoice(system.ctx.db, body.id))!;
    expect(after).to.deep.equal(first);
  });
});
