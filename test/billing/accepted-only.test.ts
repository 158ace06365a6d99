// Only what the SdI accepted is charged: a discarded invoice is VOID, one not yet accepted waits for a later run, a total of zero never enters.
import { expect } from 'chai';
import request from 'supertest';
import { actors } from '../../shared/access/actors.js';
import { transitionInvoice } from '../../shared/invoices/store.js';
import { createBillingTestSystem, insertPendingInvoices, type BillingTestSystem } from '../helpers/billing.js';
import { invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';

describe('charging only what the SdI accepted', () => {
  const opened = closedAfterEach();
  let t: BillingTestSystem;

  const api = () => request(t.system.app);
  const numberOf = async (id: string) => String((await t.system.ctx.db('invoices').first('number').where({ id }))!.number);
  const invoice = async (id: string) => (await api().get(`/v1/invoices/${id}`).set('Authorization', t.operator.auth).expect(200)).body;
  const notify = async (id: string, status: string) =>
    api().post('/v1/sdi/notifications').set('Authorization', t.operator.auth).send({ customerId: t.customerId, invoiceNumber: await numberOf(id), status }).expect(202);
  const runToEnd = async () => {
    const { id } = (await api().post('/v1/billing/runs').set('Authorization', t.operator.auth).send({ cutoffDate: '2026-12-01' }).expect(202)).body;
    return waitFor(
      async () => {
        const run = (await api().get(`/v1/billing/runs/${id}`).set('Authorization', t.operator.auth).expect(200)).body;
        return run.status === 'completed' && run;
      },
      { what: `run ${id} completed` },
    );
  };
  const chargedReferences = () => t.sandbox.ledger.entries().map((e) => e.reference);

  it('charges delivered and not-deliverable invoices, voids a discarded one, and charges a never-sent one once the SdI accepts it', async () => {
    t = opened(await createBillingTestSystem());
    const { db } = t.system.ctx;
    const customerId = t.customerId;
    const [delivered] = await insertPendingInvoices(db, { customerId, count: 1, status: 'INTERNAL_INVOICE_DELIVERED' });
    const [undeliverable] = await insertPendingInvoices(db, { customerId, count: 1, status: 'INTERNAL_INVOICE_NOT_DELIVERED' });
    const [neverSent] = await insertPendingInvoices(db, { customerId, count: 1, status: 'INTERNAL_INVOICE_NOT_SENT' });
    const [discarded] = await insertPendingInvoices(db, { customerId, count: 1, status: 'INTERNAL_INVOICE_SENT' });
    const [inFlight] = await insertPendingInvoices(db, { customerId, count: 1, status: 'INTERNAL_INVOICE_TOBE_SENT' });
    t.system.startWorkers(['invoice-save', 'billing', 'charge']);

    await notify(discarded!, 'DISCARDED');
    await waitFor(async () => (await invoice(discarded!)).paymentStatus === 'VOID', { what: 'the discarded invoice VOID' });

    const first = await runToEnd();
    expect(first.counts).to.include({ selected: 2, enqueued: 2, paid: 2, awaitingSdi: 2 });
    expect(chargedReferences()).to.have.members([delivered, undeliverable]);
    expect((await invoice(neverSent!)).paymentStatus).to.equal('PENDING');
    expect((await invoice(inFlight!)).paymentStatus).to.equal('PENDING');

    // A charge job for an invoice the SdI has not accepted (from before it was sent) charges nothing.
    const events = await t.system.events('charge');
    const early = await t.system.ctx.queues.add('charge', 'charge', { invoiceId: inFlight! }, { jobId: 'early' });
    expect(await early.waitUntilFinished(events, 10_000)).to.deep.equal({ paymentStatus: 'PENDING', waitingFor: 'INTERNAL_INVOICE_TOBE_SENT' });

    // The never-sent invoice is sent again from the DLQ, and the SdI delivers it: the next run charges it, once.
    await transitionInvoice(db, neverSent!, 'INTERNAL_INVOICE_SENT', { actor: actors.worker('sdi-send') });
    await notify(neverSent!, 'DELIVERED');
    await waitFor(async () => (await invoice(neverSent!)).status === 'INTERNAL_INVOICE_DELIVERED', { what: 'the SdI to deliver it' });
    const second = await runToEnd();
    expect(second.counts).to.include({ selected: 1, paid: 1, awaitingSdi: 1 });
    expect(chargedReferences()).to.have.members([delivered, undeliverable, neverSent]);
    expect((await invoice(discarded!)).paymentStatus).to.equal('VOID');

    const voided = (await api().get('/v1/invoices?paymentStatus=VOID').set('Authorization', t.operator.auth).expect(200)).body;
    expect(voided.data.map((i: { id: string }) => i.id)).to.deep.equal([discarded]);
  });

  it('refuses an internal invoice whose total is not above zero, naming the field', async () => {
    t = opened(await createBillingTestSystem());
    const credit = invoiceBody(t.customerId, { lines: [{ description: 'Reso', quantity: '1', unitPrice: '-10.00', vatRate: '22' }] });
    const zero = invoiceBody(t.customerId, { lines: [{ description: 'Omaggio', quantity: '1', unitPrice: '0', vatRate: '22' }] });
    for (const body of [credit, zero]) {
      const res = await api().post('/v1/invoices').set('Authorization', t.operator.auth).send(body).expect(400);
      expect(res.body.error.details).to.deep.include({ field: 'lines', message: 'the invoice total must be above zero (a credit note is not an invoice)' });
    }
    expect(await t.system.ctx.queues.get('invoice-save').count()).to.equal(0);
  });
});
