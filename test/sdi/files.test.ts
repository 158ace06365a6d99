// SdI files in the database: one per invoice, rendered once, under progressives no two files ever share.
import { expect } from 'chai';
import type { Knex } from 'knex';
import { invoiceDocumentSchema } from '../../shared/invoices/document.js';
import { invoiceId } from '../../shared/invoices/invoice.js';
import { insertNewInvoice } from '../../shared/invoices/store.js';
import { markSdiFileSent, prepareSdiFile, discardUnsentSdiFile, findSdiFileByInvoice } from '../../shared/sdi/files.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addCustomer, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';

const transmitter = { country: 'IT', code: '01234567897' };

describe('SdI files', () => {
  const opened = closedAfterEach();
  let testDb: TestDb;
  let db: Knex;
  beforeEach(async () => {
    testDb = await createTestDb();
    opened({ close: () => testDb.destroy() });
    db = testDb.db;
  });

  async function invoice(customerId: string, number: string): Promise<string> {
    const id = invoiceId('internal', customerId, number);
    const document = invoiceDocumentSchema.parse(invoiceBody(customerId, { number }));
    await insertNewInvoice(db, { id, kind: 'internal', document, acceptedAt: new Date().toISOString(), submittedBy: 'u' });
    return id;
  }

  const prepare = (id: string, renders: string[] = []) =>
    prepareSdiFile(db, { invoiceId: id, transmitter, format: 'FPR12', render: (p) => (renders.push(p), `<doc p="${p}"/>`) });

  it('gives concurrent invoices distinct progressives, and one invoice racing itself one file', async () => {
    const customerId = await addCustomer(db);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => invoice(customerId, `N-${i}`)));
    const files = await Promise.all([...ids, ...ids].map((id) => prepare(id)));
    expect(new Set(files.map((f) => f.fileName)).size).to.equal(20);
    for (const id of ids) expect(new Set(files.filter((f) => f.invoiceId === id).map((f) => f.fileName)).size).to.equal(1);
    expect(files.every((f) => /^IT01234567897_[0-9A-Z]{5}\.xml$/.test(f.fileName))).to.equal(true);
  });

  it('renders once and keeps the bytes; a discarded file’s progressive is never used again', async () => {
    const customerId = await addCustomer(db);
    const [a, b] = [await invoice(customerId, 'A'), await invoice(customerId, 'B')];
    const renders: string[] = [];
    const first = await prepare(a, renders);
    expect(await prepare(a, renders)).to.deep.equal(first);
    expect(renders).to.deep.equal([first.progressive]);

    await discardUnsentSdiFile(db, first.fileName);
    const again = await prepare(a);
    expect(again.progressive).to.not.equal(first.progressive);
    expect((await prepare(b)).progressive).to.not.be.oneOf([first.progressive, again.progressive]);
  });

  it('records the first SMTP acceptance and keeps a sent file', async () => {
    const customerId = await addCustomer(db);
    const file = await prepare(await invoice(customerId, 'C'));
    await markSdiFileSent(db, file.fileName, { messageId: '<first@x>', response: '250 ok' });
    await markSdiFileSent(db, file.fileName, { messageId: '<second@x>', response: '250 ok' });
    await discardUnsentSdiFile(db, file.fileName);
    const kept = (await findSdiFileByInvoice(db, file.invoiceId))!;
    expect(kept.smtpMessageId).to.equal('<first@x>');
    expect(kept.sentAt).to.be.a('string');
  });
});
