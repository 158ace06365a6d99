// SdI receipts in the SdI's own XML: matched by NomeFile to an invoice the caller sees and applied; refused ones kept only once matched.
import { expect } from 'chai';
import request from 'supertest';
import { addCustomer, addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';
import { keptReceipts, receiptXml as receipt, sentInvoice } from './sent-invoices.js';

describe('SdI receipts as XML', function () {
  const opened = closedAfterEach();
  this.timeout(20_000);
  let system: TestSystem;
  let operator: { auth: string; userId: string };
  beforeEach(async () => {
    system = opened(await createTestSystem());
    operator = await addUser(system.ctx.db, 'operator');
  });

  const sent = (customerId: string) => sentInvoice(system, customerId, operator.userId);

  const post = (xml: string, auth = operator.auth) =>
    request(system.app).post('/v1/sdi/notifications').set('Authorization', auth).set('Content-Type', 'application/xml').send(xml);

  async function statusOf(id: string, expected: string) {
    return waitFor(async () => {
      const res = await request(system.app).get(`/v1/invoices/${id}`).set('Authorization', operator.auth).expect(200);
      return res.body.status === expected && res.body;
    }, { what: expected });
  }

  it('applies RicevutaConsegna, NotificaScarto with its errors, and NotificaMancataConsegna', async () => {
    const customerId = await addCustomer(system.ctx.db);
    const [delivered, discarded, undelivered] = [await sent(customerId), await sent(customerId), await sent(customerId)];
    system.startWorkers(['invoice-save']);

    const rc = await post(receipt({ type: 'RicevutaConsegna', fileName: delivered.fileName })).expect(202);
    expect(rc.body).to.include({ status: 'RECEIVED', invoiceId: delivered.id });
    const errors = [
      { code: '00404', description: 'Fattura duplicata' },
      { code: '00423', description: '2.2.1.11 <PrezzoTotale> non calcolato secondo le regole definite nelle specifiche tecniche' },
    ];
    await post(receipt({ type: 'NotificaScarto', fileName: discarded.fileName, errors })).expect(202);
    await post(receipt({ type: 'NotificaMancataConsegna', fileName: undelivered.fileName, description: 'casella PEC piena' })).expect(202);

    await statusOf(delivered.id, 'INTERNAL_INVOICE_DELIVERED');
    const rejected = await statusOf(discarded.id, 'INTERNAL_INVOICE_DISCARDED');
    expect(rejected.sdi.errors).to.deep.equal(errors);
    await statusOf(undelivered.id, 'INTERNAL_INVOICE_NOT_DELIVERED');

    const kept = await request(system.app).get(rc.body.links.receipt).set('Authorization', operator.auth).expect(200);
    expect(kept.body).to.include({ messageType: 'RicevutaConsegna', fileName: delivered.fileName, outcome: 'accepted', invoiceId: delivered.id, sdiIdentifier: '4242' });
  });

  it('takes the same receipt twice as one notification', async () => {
    const customerId = await addCustomer(system.ctx.db);
    const invoice = await sent(customerId);
    const xml = receipt({ type: 'RicevutaConsegna', fileName: invoice.fileName });
    const [a, b] = [await post(xml).expect(202), await post(xml).expect(202)];
    expect(a.body.id).to.equal(b.body.id);
  });

  it('takes the largest NotificaScarto the schema allows: 200 errors of 255 characters, signed with a certificate', async () => {
    const invoice = await sent(await addCustomer(system.ctx.db));
    const description = 'Il valore del campo è già presente in un file già trasmesso, verificare la numerazione '.repeat(4).slice(0, 255);
    const errors = Array.from({ length: 200 }, (_, i) => ({ code: String(i).padStart(5, '0'), description }));
    // A 2048-bit RSA signature and a certificate of about 1.5 KB, as the SdI's own signature carries.
    const certificate = 'MIIF'.padEnd(2000, 'A');
    const xml = receipt({ type: 'NotificaScarto', fileName: invoice.fileName, errors }).replace(
      '<ds:SignatureValue>AAAA</ds:SignatureValue>',
      `<ds:SignatureValue>${'A'.repeat(344)}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`,
    );
    expect(Buffer.byteLength(xml)).to.be.above(64 * 1024).and.below(128 * 1024);
    const res = await post(xml).expect(202);
    const kept = await request(system.app).get(res.body.links.receipt).set('Authorization', operator.auth).expect(200);
    expect(kept.body.outcome).to.equal('accepted');
  });

  it('refuses a receipt for a file we never sent, and keeps nothing', async () => {
    const res = await post(receipt({ type: 'RicevutaConsegna', fileName: 'IT01234567897_ZZZZZ.xml' })).expect(404);
    expect(res.body.error).to.include({ code: 'not_found', message: 'no invoice you can see was sent as IT01234567897_ZZZZZ.xml' });
    expect(await keptReceipts(system)).to.equal(0);
  });

  it('keeps and refuses a receipt for our invoice that does not validate, with the schema errors', async () => {
    const invoice = await sent(await addCustomer(system.ctx.db));
    const unsigned = receipt({ type: 'RicevutaConsegna', fileName: invoice.fileName }).replace(/<ds:Signature>[\s\S]*<\/ds:Signature>/, '');
    const res = await post(unsigned).expect(400);
    expect(res.body.error.code).to.equal('invalid_receipt');
    expect(res.body.error.details.errors[0].message).to.contain('Signature');
    const kept = await request(system.app).get(`/v1/sdi/receipts/${res.body.error.details.receiptId}`).set('Authorization', operator.auth).expect(200);
    expect(kept.body).to.include({ outcome: 'invalid', invoiceId: invoice.id, fileName: invoice.fileName });
  });

  it('refuses what is not XML, a DOCTYPE, and a receipt naming no file, keeping none of them', async () => {
    await post('<RicevutaConsegna><NomeFile>x').expect(400);
    const doctype = await post('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>').expect(400);
    expect(doctype.body.error).to.include({ code: 'invalid_receipt', message: 'a DOCTYPE is not allowed in an SdI document' });
    await post('<RicevutaConsegna><IdentificativoSdI>1</IdentificativoSdI></RicevutaConsegna>').expect(400);
    await post('').expect(400);
    expect(await keptReceipts(system)).to.equal(0);
  });

  it('keeps and refuses a valid SdI message for our invoice that settles nothing', async () => {
    const invoice = await sent(await addCustomer(system.ctx.db));
    const xml = receipt({ type: 'RicevutaConsegna', fileName: invoice.fileName })
      .replaceAll('RicevutaConsegna', 'AttestazioneTrasmissioneFattura')
      .replace(/<DataOraConsegna>[^<]*<\/DataOraConsegna>/, '')
      .replace('</MessageId>', '</MessageId><HashFileOriginale>00</HashFileOriginale>');
    const res = await post(xml).expect(422);
    expect(res.body.error.code).to.equal('unsupported_receipt');
    const kept = await request(system.app).get(`/v1/sdi/receipts/${res.body.error.details.receiptId}`).set('Authorization', operator.auth).expect(200);
    expect(kept.body).to.include({ outcome: 'invalid', invoiceId: invoice.id, messageType: 'AttestazioneTrasmissioneFattura' });
  });

  it('lets a client post receipts only for its own customers’ invoices: another’s file is as unknown as a missing one', async () => {
    const mine = await addCustomer(system.ctx.db);
    const theirs = await addCustomer(system.ctx.db);
    const client = await addUser(system.ctx.db, 'client', [mine]);
    const their = await sent(theirs);
    const res = await post(receipt({ type: 'RicevutaConsegna', fileName: their.fileName }), client.auth).expect(404);
    expect(res.body.error.message).to.equal(`no invoice you can see was sent as ${their.fileName}`);
    expect(await keptReceipts(system)).to.equal(0);

    const own = await sent(mine);
    await post(receipt({ type: 'RicevutaConsegna', fileName: own.fileName }), client.auth).expect(202);
    expect(await keptReceipts(system)).to.equal(1);
  });
});
