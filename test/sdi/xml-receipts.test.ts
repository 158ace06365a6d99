// SdI receipts in the SdI's own XML: matched by NomeFile and applied; invalid or unmatched ones recorded and refused.
import { expect } from 'chai';
import request from 'supertest';
import { actors } from '../../shared/access/actors.js';
import { invoiceDocumentSchema } from '../../shared/invoices/document.js';
import { invoiceId } from '../../shared/invoices/invoice.js';
import { insertNewInvoice, transitionInvoice } from '../../shared/invoices/store.js';
import { buildSdiReceipt, type ReceiptInput } from '../../shared/sdi/fatturapa/messages.js';
import { markSdiFileSent, prepareSdiFile } from '../../shared/sdi/files.js';
import { transmitterOf } from '../../shared/sdi/seller.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

describe('SdI receipts as XML', function () {
  const opened = closedAfterEach();
  this.timeout(20_000);
  let system: TestSystem;
  let operator: { auth: string; userId: string };
  beforeEach(async () => {
    system = opened(await createTestSystem());
    operator = await addUser(system.ctx.db, 'operator');
  });

  /** An invoice as the sdi-send worker leaves it: SENT, with its file. */
  async function sentInvoice(customerId: string): Promise<{ id: string; fileName: string }> {
    const document = invoiceDocumentSchema.parse(invoiceBody(customerId));
    const id = invoiceId('internal', customerId, document.number);
    await insertNewInvoice(system.ctx.db, { id, kind: 'internal', document, acceptedAt: new Date().toISOString(), submittedBy: operator.userId });
    await transitionInvoice(system.ctx.db, id, 'INTERNAL_INVOICE_TOBE_SENT', { actor: actors.worker('test') });
    const file = await prepareSdiFile(system.ctx.db, { invoiceId: id, transmitter: transmitterOf(system.config), format: 'FPR12', render: () => '<x/>' });
    await markSdiFileSent(system.ctx.db, file.fileName, { messageId: '<m@x>', response: '250 ok' });
    await transitionInvoice(system.ctx.db, id, 'INTERNAL_INVOICE_SENT', { actor: actors.worker('test') });
    return { id, fileName: file.fileName };
  }

  const receipt = (input: Partial<ReceiptInput> & Pick<ReceiptInput, 'type' | 'fileName'>) =>
    buildSdiReceipt({ sdiIdentifier: '4242', messageId: '77', receivedAt: new Date(), ...input });

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
    const [delivered, discarded, undelivered] = [await sentInvoice(customerId), await sentInvoice(customerId), await sentInvoice(customerId)];
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
    const sent = await sentInvoice(customerId);
    const xml = receipt({ type: 'RicevutaConsegna', fileName: sent.fileName });
    const [a, b] = [await post(xml).expect(202), await post(xml).expect(202)];
    expect(a.body.id).to.equal(b.body.id);
  });

  it('records and refuses a receipt for a file we never sent', async () => {
    const res = await post(receipt({ type: 'RicevutaConsegna', fileName: 'IT01234567897_ZZZZZ.xml' })).expect(422);
    expect(res.body.error.code).to.equal('unknown_file');
    const kept = await request(system.app).get(`/v1/sdi/receipts/${res.body.error.details.receiptId}`).set('Authorization', operator.auth).expect(200);
    expect(kept.body).to.include({ outcome: 'unmatched', fileName: 'IT01234567897_ZZZZZ.xml' });
  });

  it('records and refuses a receipt that does not validate, with the schema errors', async () => {
    const unsigned = receipt({ type: 'RicevutaConsegna', fileName: 'IT01234567897_00001.xml' }).replace(/<ds:Signature>[\s\S]*<\/ds:Signature>/, '');
    const res = await post(unsigned).expect(400);
    expect(res.body.error.code).to.equal('invalid_receipt');
    expect(res.body.error.details.errors[0].message).to.contain('Signature');
    const kept = await request(system.app).get(`/v1/sdi/receipts/${res.body.error.details.receiptId}`).set('Authorization', operator.auth).expect(200);
    expect(kept.body.outcome).to.equal('invalid');

    await post('<RicevutaConsegna><NomeFile>x').expect(400);
    await post('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>').expect(400);
  });

  it('refuses a valid SdI message that settles nothing', async () => {
    const xml = receipt({ type: 'RicevutaConsegna', fileName: 'IT01234567897_00001.xml' })
      .replaceAll('RicevutaConsegna', 'AttestazioneTrasmissioneFattura')
      .replace(/<DataOraConsegna>[^<]*<\/DataOraConsegna>/, '')
      .replace('</MessageId>', '</MessageId><HashFileOriginale>00</HashFileOriginale>');
    const res = await post(xml).expect(422);
    expect(res.body.error.code).to.equal('unsupported_receipt');
  });

  it('lets a client post receipts only for its own customers’ invoices', async () => {
    const mine = await addCustomer(system.ctx.db);
    const theirs = await addCustomer(system.ctx.db);
    const client = await addUser(system.ctx.db, 'client', [mine]);
    const sent = await sentInvoice(theirs);
    await post(receipt({ type: 'RicevutaConsegna', fileName: sent.fileName }), client.auth).expect(403);
  });
});
