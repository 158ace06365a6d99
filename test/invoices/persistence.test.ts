// Invoice persistence: one row per (kind, customer, number), compare-and-set status moves, an event for each.
import { expect } from 'chai';
import { actors } from '../../shared/access/actors.js';
import { invoiceDocumentSchema } from '../../shared/invoices/document.js';
import { invoiceId } from '../../shared/invoices/invoice.js';
import { findInvoice, insertNewInvoice, listInvoiceEvents, listInvoiceLines, transitionInvoice } from '../../shared/invoices/store.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';

describe('invoice persistence', () => {
  const opened = closedAfterEach();
  let testDb: TestDb;
  beforeEach(async () => {
    testDb = await createTestDb();
    opened({ close: () => testDb.destroy() });
  });

  const accept = (customerId = 'cust-1', overrides: Record<string, unknown> = {}) => {
    const document = invoiceDocumentSchema.parse(invoiceBody(customerId, overrides));
    const id = invoiceId('internal', customerId, document.number);
    return { id, kind: 'internal' as const, document, acceptedAt: new Date().toISOString(), submittedBy: 'user-1' };
  };

  it('stores the invoice, its lines with exact totals and a first event', async () => {
    const accepted = accept();
    expect(await insertNewInvoice(testDb.db, accepted)).to.equal(true);
    const invoice = await findInvoice(testDb.db, accepted.id);
    expect(invoice).to.include({ status: 'INTERNAL_INVOICE_NEW', totalCents: 142_928, taxableCents: 117_190, vatCents: 25_738 });
    expect(await listInvoiceLines(testDb.db, accepted.id)).to.have.length(3);
    expect(await listInvoiceEvents(testDb.db, accepted.id)).to.deep.equal([
      { from: null, to: 'INTERNAL_INVOICE_NEW', at: accepted.acceptedAt, actor: 'user:user-1', details: null },
    ]);
  });

  it('ignores a second insert of the same invoice', async () => {
    const accepted = accept();
    expect(await insertNewInvoice(testDb.db, accepted)).to.equal(true);
    expect(await insertNewInvoice(testDb.db, { ...accepted, acceptedAt: new Date().toISOString() })).to.equal(false);
    expect(await testDb.db('invoices').count({ n: '*' }).first()).to.satisfy((r: { n: unknown }) => Number(r.n) === 1);
    expect(await listInvoiceLines(testDb.db, accepted.id)).to.have.length(3);
  });

  it('stores 1,000 lines in one insert', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => ({ description: `Riga ${i + 1}`, quantity: '1', unitPrice: '1.00', vatRate: '22' }));
    const accepted = accept('cust-1', { lines });
    await insertNewInvoice(testDb.db, accepted);
    expect(await listInvoiceLines(testDb.db, accepted.id)).to.have.length(1000);
    expect((await findInvoice(testDb.db, accepted.id))?.totalCents).to.equal(122_000);
  });

  it('moves status only along the machine and records each move', async () => {
    const accepted = accept();
    await insertNewInvoice(testDb.db, accepted);
    expect(await transitionInvoice(testDb.db, accepted.id, 'INTERNAL_INVOICE_SENT', { actor: actors.worker('test') })).to.deep.equal({
      moved: false,
      reason: 'not_allowed',
      status: 'INTERNAL_INVOICE_NEW',
    });
    expect(await transitionInvoice(testDb.db, accepted.id, 'INTERNAL_INVOICE_TOBE_SENT', { actor: 'worker:test', set: { payment_status: 'PENDING' } }))
      .to.deep.equal({ moved: true, from: 'INTERNAL_INVOICE_NEW' });
    expect(await transitionInvoice(testDb.db, accepted.id, 'INTERNAL_INVOICE_TOBE_SENT', { actor: 'worker:test' })).to.deep.equal({
      moved: false,
      reason: 'already',
      status: 'INTERNAL_INVOICE_TOBE_SENT',
    });
    expect(await transitionInvoice(testDb.db, 'no-such-invoice', 'INTERNAL_INVOICE_TOBE_SENT', { actor: actors.worker('test') })).to.deep.equal({ moved: false, reason: 'not_found' });
    const invoice = await findInvoice(testDb.db, accepted.id);
    expect(invoice).to.include({ status: 'INTERNAL_INVOICE_TOBE_SENT', paymentStatus: 'PENDING', updatedBy: 'worker:test' });
    const events = await listInvoiceEvents(testDb.db, accepted.id);
    expect(events.map((e) => [e.from, e.to, e.actor])).to.deep.equal([
      [null, 'INTERNAL_INVOICE_NEW', 'user:user-1'],
      ['INTERNAL_INVOICE_NEW', 'INTERNAL_INVOICE_TOBE_SENT', 'worker:test'],
    ]);
  });

  it('lets exactly one of many concurrent movers win', async () => {
    const accepted = accept();
    await insertNewInvoice(testDb.db, accepted);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => transitionInvoice(testDb.db, accepted.id, i % 2 ? 'INTERNAL_INVOICE_TOBE_SENT' : 'INTERNAL_INVOICE_INVALID', { actor: actors.worker(`w${i}`) })),
    );
    expect(results.filter((r) => r.moved)).to.have.length(1);
    expect(await listInvoiceEvents(testDb.db, accepted.id)).to.have.length(2);
  });
});
