// The SdI loop end to end through the simulator: rendered, mailed, checked, and the receipt applied to the invoice.
import { readdir } from 'node:fs/promises';
import { expect } from 'chai';
import request from 'supertest';
import { INVOICE_XSD } from '../../shared/sdi/fatturapa/xsd.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createSdiTestSystem, type SdiTestSystem } from '../helpers/sdi.js';
import { waitFor } from '../helpers/wait.js';

describe('SdI transmission through the simulator', () => {
  const opened = closedAfterEach();
  let sdi: SdiTestSystem;
  beforeEach(async () => {
    sdi = opened(await createSdiTestSystem());
  });

  async function submitAndSettle(customerId: string, auth: string) {
    const accepted = await request(sdi.system.app).post('/v1/invoices').set('Authorization', auth).send(invoiceBody(customerId)).expect(202);
    return waitFor(
      async () => {
        const res = await request(sdi.system.app).get(`/v1/invoices/${accepted.body.id}`).set('Authorization', auth).expect(200);
        return ['INTERNAL_INVOICE_DELIVERED', 'INTERNAL_INVOICE_DISCARDED'].includes(res.body.status) && res.body;
      },
      { what: 'the SdI verdict', timeoutMs: 15_000 },
    );
  }

  it('takes an internal invoice to SENT and then DELIVERED, keeping a schema-valid document', async () => {
    const customerId = await addCustomer(sdi.system.ctx.db);
    const client = await addUser(sdi.system.ctx.db, 'client', [customerId]);
    sdi.system.startWorkers(['invoice-save', 'sdi-send']);

    const invoice = await submitAndSettle(customerId, client.auth);
    expect(invoice.status).to.equal('INTERNAL_INVOICE_DELIVERED');
    expect(invoice.events.map((e: { to: string }) => e.to)).to.deep.equal([
      'INTERNAL_INVOICE_NEW',
      'INTERNAL_INVOICE_TOBE_SENT',
      'INTERNAL_INVOICE_SENT',
      'INTERNAL_INVOICE_DELIVERED',
    ]);
    expect(invoice.sdi.fileName).to.match(/^IT01234567897_[0-9A-Z]{5}\.xml$/);
    expect(invoice.sdi.smtpMessageId).to.be.a('string');
    expect(invoice.sdi.errors).to.equal(null);

    const xml = await request(sdi.system.app).get(invoice.sdi.links.xml).set('Authorization', client.auth).expect(200).expect('Content-Type', /application\/xml/);
    expect(xml.headers['content-disposition']).to.contain(invoice.sdi.fileName);
    const check = await sdi.system.ctx.xsd.validate(xml.text, INVOICE_XSD);
    expect(check.errors).to.deep.equal([]);

    // The simulator kept the message, the file and its receipt.
    const kept = await readdir(sdi.inboxDir);
    const base = invoice.sdi.fileName.replace('.xml', '');
    expect(kept.filter((f) => f.includes(base))).to.have.length(3);
    expect(kept.some((f) => f.endsWith(`${base}_RC_001.xml`))).to.equal(true);
    expect(sdi.simulator()!.files).to.have.length(1);
  });

  it('has no document to show before the sdi-send step', async () => {
    const customerId = await addCustomer(sdi.system.ctx.db);
    const client = await addUser(sdi.system.ctx.db, 'client', [customerId]);
    const { body } = await request(sdi.system.app).post('/v1/invoices').set('Authorization', client.auth).send(invoiceBody(customerId)).expect(202);
    sdi.system.startWorkers(['invoice-save']);
    await waitFor(async () => (await request(sdi.system.app).get(`/v1/invoices/${body.id}`).set('Authorization', client.auth)).body.status === 'INTERNAL_INVOICE_TOBE_SENT');
    const res = await request(sdi.system.app).get(`/v1/invoices/${body.id}/xml`).set('Authorization', client.auth).expect(404);
    expect(res.body.error.code).to.equal('not_rendered');
    const other = await addUser(sdi.system.ctx.db, 'client', [await addCustomer(sdi.system.ctx.db)]);
    await request(sdi.system.app).get(`/v1/invoices/${body.id}/xml`).set('Authorization', other.auth).expect(404);
  });

  it('never mails a document that fails the schema: NOT_SENT at once, with the errors', async () => {
    // A buyer stored before today's checks, with a character outside the Latin-1 FatturaPA allows.
    const customerId = await addCustomer(sdi.system.ctx.db);
    await sdi.system.ctx.db('customers').where({ id: customerId }).update({ name: 'Rossi € Figli S.r.l.' });
    const client = await addUser(sdi.system.ctx.db, 'client', [customerId]);
    const { body } = await request(sdi.system.app).post('/v1/invoices').set('Authorization', client.auth).send(invoiceBody(customerId)).expect(202);
    sdi.system.startWorkers(['invoice-save', 'sdi-send']);
    const invoice = await waitFor(async () => {
      const res = await request(sdi.system.app).get(`/v1/invoices/${body.id}`).set('Authorization', client.auth);
      return res.body.status === 'INTERNAL_INVOICE_NOT_SENT' && res.body;
    });
    expect(invoice.events.at(-1).details.reason).to.contain('does not validate').and.to.contain('Denominazione');
    expect(invoice.events.at(-1).details.attempts).to.equal(1);
    expect(invoice.sdi).to.equal(null);
    expect(sdi.simulator()!.files).to.have.length(0);
  });

  it('shows the reasons when the SdI discards the invoice', async () => {
    // Well-formed, so it passes our intake and the schema, but its check digit is wrong: the SdI's registry check fails.
    const customerId = await addCustomer(sdi.system.ctx.db, { vatNumber: 'IT01879020518' });
    const client = await addUser(sdi.system.ctx.db, 'client', [customerId]);
    sdi.system.startWorkers(['invoice-save', 'sdi-send']);

    const invoice = await submitAndSettle(customerId, client.auth);
    expect(invoice.status).to.equal('INTERNAL_INVOICE_DISCARDED');
    expect(invoice.sdi.errors).to.deep.equal([{ code: '00305', description: '1.4.1.1.2 <IdCodice> non valido: 01879020518' }]);
    expect(invoice.events.at(-1).details.errors).to.deep.equal(invoice.sdi.errors);
  });

  it('gives every file its own progressive, never reused', async () => {
    const customerId = await addCustomer(sdi.system.ctx.db);
    const client = await addUser(sdi.system.ctx.db, 'client', [customerId]);
    sdi.system.startWorkers(['invoice-save', 'sdi-send']);
    const settled = await Promise.all([1, 2, 3].map(() => submitAndSettle(customerId, client.auth)));
    const names = settled.map((i) => i.sdi.fileName);
    expect(new Set(names).size).to.equal(3);
    expect(settled.every((i) => i.status === 'INTERNAL_INVOICE_DELIVERED')).to.equal(true);
  });
});
