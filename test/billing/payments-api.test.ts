// The payments API: one-off payments charged through the sandbox provider, and the payments ledger with its filters and cursor pages.
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { insertPayment, type NewPayment } from '../../shared/billing/payments.js';
import { newId } from '../../shared/platform/ids.js';
import { createBillingTestSystem, type BillingTestSystem } from '../helpers/billing.js';
import { addCustomer, addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import type { TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

interface PaymentJson {
  id: string;
  paymentRefId: string;
  kind: string;
  invoiceId: string | null;
  customerId: string;
  userId: string | null;
  amount: string;
  currency: string;
  status: string;
  reason: string | null;
  providerChargeId: string | null;
  createdAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('payments API', () => {
  const opened = closedAfterEach();
  let billing: BillingTestSystem;
  let system: TestSystem;
  let client: { userId: string; auth: string };

  beforeEach(async () => {
    billing = opened(await createBillingTestSystem());
    system = billing.system;
    client = await addUser(system.ctx.db, 'client', [billing.customerId]);
  });

  const post = (body: unknown, auth = client.auth) => request(system.app).post('/v1/payments').set('Authorization', auth).send(body as object);
  const get = (path: string, auth = billing.operator.auth) => request(system.app).get(path).set('Authorization', auth);
  const read = async (id: string): Promise<PaymentJson> => (await get(`/v1/payments/${id}`).expect(200)).body;
  const settled = (id: string) =>
    waitFor(async () => {
      const payment = await read(id);
      return payment.status !== 'PENDING' && payment;
    }, { what: `payment ${id} to settle` });
  const paymentRows = async () => Number((await system.ctx.db('payments').count({ n: '*' }))[0]!.n);

  describe('one-off payments', () => {
    it('accepts a payment as PENDING and charges it once: PAID, one ledger entry for its amount', async () => {
      const accepted = await post({ customerId: billing.customerId, amount: '12.50', currency: 'EUR', description: 'setup fee' }).expect(202);
      const payment: PaymentJson = accepted.body;
      expect(payment).to.include({
        kind: 'one-off',
        customerId: billing.customerId,
        userId: client.userId,
        amount: '12.50',
        currency: 'EUR',
        status: 'PENDING',
        invoiceId: null,
        reason: null,
        providerChargeId: null,
      });
      expect(payment.id).to.match(UUID);
      expect(payment.paymentRefId).to.match(UUID);
      expect(payment.paymentRefId).to.not.equal(payment.id);
      expect(accepted.headers.location).to.equal(`/v1/payments/${payment.id}`);
      expect(accepted.headers['idempotent-replayed']).to.equal(undefined);

      // Queued under its deterministic job id, not charged while no worker runs.
      const job = (await system.ctx.queues.getJob('charge', jobIds.oneOffCharge(payment.id)))!;
      expect(job.id).to.equal(`payment-${payment.id}`);
      expect(job.name).to.equal('one-off');
      expect(job.data).to.deep.equal({ paymentId: payment.id });
      expect((await read(payment.id)).status).to.equal('PENDING');
      expect(billing.sandbox.chargeRequests).to.equal(0);

      const events = await system.events('charge');
      system.startWorkers(['charge']);
      expect(await job.waitUntilFinished(events, 10_000)).to.deep.equal({ status: 'PAID' });

      const paid = await read(payment.id);
      expect(paid).to.include({ id: payment.id, paymentRefId: payment.paymentRefId, status: 'PAID', amount: '12.50', reason: null });
      const entries = billing.sandbox.ledger.entries({ reference: payment.id });
      expect(entries).to.have.length(1);
      expect(entries[0]).to.include({ customerId: billing.customerId, amount: 1250, currency: 'EUR', charged: true, idempotencyKey: `payment-${payment.id}` });
      expect(paid.providerChargeId).to.equal(entries[0]!.id);
      expect(billing.sandbox.ledger.entries()).to.have.length(1);
      expect(billing.sandbox.chargeRequests).to.equal(1);
      expect(billing.sandbox.ledger.getAccount(billing.customerId)!.balance).to.equal(1_000_000_00 - 1250);
      expect(await paymentRows()).to.equal(1);
    });

    it('fails a payment the balance does not cover, saying why, and charges nothing', async () => {
      billing.sandbox.ledger.setAccount(billing.customerId, { balance: 1000, currency: 'EUR' });
      const { body } = await post({ customerId: billing.customerId, amount: 12.5, currency: 'EUR' }).expect(202);
      expect(body.amount).to.equal('12.50');

      const job = (await system.ctx.queues.getJob('charge', jobIds.oneOffCharge(body.id)))!;
      const events = await system.events('charge');
      system.startWorkers(['charge']);
      expect(await job.waitUntilFinished(events, 10_000)).to.deep.equal({ status: 'FAILED' });

      const failed = await read(body.id);
      expect(failed.status).to.equal('FAILED');
      expect(failed.reason).to.match(/insufficient balance/);
      const entries = billing.sandbox.ledger.entries({ reference: body.id });
      expect(entries).to.have.length(1);
      expect(entries[0]).to.include({ amount: 1250, charged: false });
      expect(failed.providerChargeId).to.equal(entries[0]!.id);
      expect(billing.sandbox.ledger.getAccount(billing.customerId)!.balance).to.equal(1000);
    });

    it('fails a payment for a customer the provider does not know, leaving its job in the failed set', async () => {
      const stranger = await addCustomer(system.ctx.db); // no account at the sandbox
      const { body } = await post({ customerId: stranger, amount: '3.00', currency: 'EUR' }, billing.operator.auth).expect(202);
      expect(body.userId).to.equal(billing.operator.userId);
      system.startWorkers(['charge']);

      const failed = await settled(body.id);
      expect(failed.status).to.equal('FAILED');
      expect(failed.reason).to.match(new RegExp(`no account for customer ${stranger}`));
      // The failure is recorded by the attempt itself, a moment before BullMQ moves the job to the failed set.
      const job = await waitFor(async () => {
        const found = await system.ctx.queues.getJob('charge', jobIds.oneOffCharge(body.id));
        return (await found?.getState()) === 'failed' && found;
      }, { what: 'the job in the failed set' });
      expect(job.attemptsMade).to.equal(1); // unrecoverable: no retries
      expect(job.failedReason).to.match(/no account/);
      expect(billing.sandbox.ledger.entries({ reference: body.id })).to.deep.equal([]);
      expect((await read(body.id)).status).to.equal('FAILED');
    });

    it('refuses a bad body with the failing fields, and records nothing', async () => {
      const details = async (body: unknown) => {
        const res = await post(body).expect(400);
        expect(res.body.error.code).to.equal('invalid_request');
        return (res.body.error.details as { field: string; message: string }[]).map((d) => d.field);
      };
      expect(await details({ customerId: '', amount: '12.505', currency: 'eur' })).to.have.members(['customerId', 'amount', 'currency']);
      expect(await details({ customerId: billing.customerId, currency: 'EUR' })).to.deep.equal(['amount']);
      expect(await details({ customerId: billing.customerId, amount: '0.00', currency: 'EUR' })).to.deep.equal(['amount']);
      expect(await details({ customerId: billing.customerId, amount: -5, currency: 'EUR' })).to.deep.equal(['amount']);
      expect(await details({ customerId: billing.customerId, amount: '1e3', currency: 'EUR' })).to.deep.equal(['amount']);
      expect(await details({ customerId: billing.customerId, amount: '12.50', currency: 'EURO' })).to.deep.equal(['currency']);
      expect(await details({ customerId: billing.customerId, amount: '12.50', currency: 'EUR', description: 'x'.repeat(501) })).to.deep.equal([
        'description',
      ]);
      expect(await details({})).to.have.members(['customerId', 'amount', 'currency']);
      // An operator may pay for any customer, but only one that exists.
      const unknown = await post({ customerId: 'cust-nobody', amount: '1.00', currency: 'EUR' }, billing.operator.auth).expect(400);
      expect(unknown.body.error.details).to.deep.equal([{ field: 'customerId', message: 'no customer cust-nobody' }]);
      await request(system.app)
        .post('/v1/payments')
        .set('Authorization', client.auth)
        .set('content-type', 'application/json')
        .send('{"customerId":')
        .expect(400);
      await request(system.app).post('/v1/payments').send({ customerId: billing.customerId, amount: '1.00', currency: 'EUR' }).expect(401);

      expect(await paymentRows()).to.equal(0);
      expect(await system.ctx.queues.get('charge').getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed')).to.deep.equal({
        waiting: 0,
        delayed: 0,
        active: 0,
        completed: 0,
        failed: 0,
      });
      await get(`/v1/payments/${newId()}`).expect(404);
    });
  });

  describe('the ledger', () => {
    let other: string;
    let users: { a: string; b: string };

    beforeEach(async () => {
      other = await addCustomer(system.ctx.db);
      users = { a: (await addUser(system.ctx.db, 'client')).userId, b: (await addUser(system.ctx.db, 'client')).userId };
    });

    /** Inserts a payment as the charge handlers do, then dates it. */
    async function add(createdAt: string, p: Partial<NewPayment> = {}): Promise<{ id: string; paymentRefId: string }> {
      const id = newId();
      const inserted = await insertPayment(system.ctx.db, {
        id,
        kind: p.invoiceId ? 'invoice' : 'one-off',
        customerId: billing.customerId,
        userId: null,
        amountCents: 1000,
        currency: 'EUR',
        status: 'PAID',
        idempotencyKey: `payment-${id}`,
        ...p,
      });
      expect(inserted).to.equal(true);
      await system.ctx.db('payments').where({ id }).update({ created_at: createdAt, updated_at: createdAt });
      const row = await system.ctx.db('payments').first('payment_ref_id').where({ id });
      return { id, paymentRefId: String(row.payment_ref_id) };
    }

    const ids = async (query: string, auth = billing.operator.auth): Promise<string[]> => {
      const res = await get(`/v1/payments${query}`, auth).expect(200);
      expect(res.body.nextCursor).to.equal(null);
      return res.body.data.map((p: { id: string }) => p.id);
    };

    it('filters by time (dates and instants), customer, user, reference, status and invoice', async () => {
      const invoiceA = newId();
      const invoiceB = newId();
      const p1 = await add('2026-11-01T00:00:00.000Z', { userId: users.a, status: 'PAID' });
      const p2 = await add('2026-11-01T20:00:00.000Z', { userId: users.b, status: 'FAILED', reason: 'insufficient balance' });
      const p3 = await add('2026-11-02T12:00:00.000Z', { customerId: other, userId: users.a, status: 'PENDING' });
      const p4 = await add('2026-11-03T00:00:00.000Z', { customerId: other, invoiceId: invoiceA, status: 'DECLINED', dunningStep: 0 });
      const p5 = await add('2026-11-03T23:59:59.999Z', { userId: users.a, invoiceId: invoiceB, status: 'PAID', dunningStep: 1 });
      const p6 = await add('2026-11-04T00:00:00.000Z', { userId: users.b, status: 'PAID' });

      // Newest first, everything.
      expect(await ids('')).to.deep.equal([p6.id, p5.id, p4.id, p3.id, p2.id, p1.id]);

      // Dates are whole UTC days, both ends included.
      expect(await ids('?from=2026-11-01&to=2026-11-01')).to.deep.equal([p2.id, p1.id]);
      expect(await ids('?from=2026-11-03&to=2026-11-03')).to.deep.equal([p5.id, p4.id]);
      expect(await ids('?from=2026-11-02')).to.deep.equal([p6.id, p5.id, p4.id, p3.id]);
      expect(await ids('?to=2026-11-02')).to.deep.equal([p3.id, p2.id, p1.id]);
      expect(await ids('?from=2026-11-05')).to.deep.equal([]);

      // Instants are exact, both ends included, in any offset.
      const q = (params: Record<string, string>) => `?${new URLSearchParams(params)}`;
      expect(await ids(q({ from: '2026-11-01T20:00:00Z', to: '2026-11-03T00:00:00Z' }))).to.deep.equal([p4.id, p3.id, p2.id]);
      expect(await ids(q({ from: '2026-11-01T20:00:00.001Z', to: '2026-11-02T23:59:59.999Z' }))).to.deep.equal([p3.id]);
      expect(await ids(q({ from: '2026-11-01T22:00:00+02:00', to: '2026-11-03T23:59:59.998Z' }))).to.deep.equal([p4.id, p3.id, p2.id]);
      expect(await ids(q({ from: '2026-11-01T15:00:00.001-05:00', to: '2026-11-03T23:59:59.998Z' }))).to.deep.equal([p4.id, p3.id]);
      expect(await ids(q({ from: '2026-11-03T00:00:00.000Z', to: '2026-11-04T01:00:00+01:00' }))).to.deep.equal([p6.id, p5.id, p4.id]);
      // A date and an instant together.
      expect(await ids(q({ from: '2026-11-01T12:00:00Z', to: '2026-11-01' }))).to.deep.equal([p2.id]);

      expect(await ids(`?customerId=${other}`)).to.deep.equal([p4.id, p3.id]);
      expect(await ids('?customerId=cust-nobody')).to.deep.equal([]);
      expect(await ids(`?userId=${users.a}`)).to.deep.equal([p5.id, p3.id, p1.id]);
      expect(await ids(`?userId=${users.b}`)).to.deep.equal([p6.id, p2.id]);
      expect(await ids(`?paymentRefId=${p3.paymentRefId}`)).to.deep.equal([p3.id]);
      expect(await ids(`?paymentRefId=${newId()}`)).to.deep.equal([]);
      expect(await ids('?status=PAID')).to.deep.equal([p6.id, p5.id, p1.id]);
      expect(await ids('?status=DECLINED')).to.deep.equal([p4.id]);
      expect(await ids('?status=FAILED')).to.deep.equal([p2.id]);
      expect(await ids('?status=PENDING')).to.deep.equal([p3.id]);
      expect(await ids(`?invoiceId=${invoiceA}`)).to.deep.equal([p4.id]);
      expect(await ids(`?invoiceId=${invoiceB}`)).to.deep.equal([p5.id]);
      // Filters combine.
      expect(await ids(`?customerId=${billing.customerId}&status=PAID&from=2026-11-02&to=2026-11-03`)).to.deep.equal([p5.id]);
      expect(await ids(`?userId=${users.a}&customerId=${other}`)).to.deep.equal([p3.id]);

      // The view of one payment.
      const one = (await get(`/v1/payments/${p4.id}`).expect(200)).body;
      expect(one).to.deep.include({
        id: p4.id,
        paymentRefId: p4.paymentRefId,
        kind: 'invoice',
        invoiceId: invoiceA,
        orderId: null,
        customerId: other,
        userId: null,
        amount: '10.00',
        currency: 'EUR',
        status: 'DECLINED',
        dunningStep: 0,
        createdAt: '2026-11-03T00:00:00.000Z',
      });
      expect(one).to.not.have.property('idempotencyKey');

      // Bad filters are refused, naming the parameter.
      for (const bad of [
        'from=yesterday',
        'from=2026-13-01',
        'to=2026-11-01T25:00:00Z',
        'to=2026-11-01T10:00:00',
        'status=SETTLED',
        'paymentRefId=not-a-uuid',
        'limit=0',
        'limit=501',
        'cursor=nonsense',
      ]) {
        const res = await get(`/v1/payments?${bad}`).expect(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field), bad).to.deep.equal([bad.split('=')[0]]);
      }
    });

    it('walks every page with the cursor, newest first, without duplicates or gaps', async () => {
      const base = Date.parse('2026-10-01T00:00:00.000Z');
      const expected: { id: string; createdAt: string }[] = [];
      for (let i = 0; i < 23; i++) {
        // Three pairs share an instant, so the id has to break ties.
        const createdAt = new Date(base + (i - (i % 8 === 1 ? 1 : 0)) * 60_000).toISOString();
        const customerId = i % 3 === 0 ? other : billing.customerId;
        const { id } = await add(createdAt, { customerId, status: i % 2 ? 'PAID' : 'FAILED' });
        expected.push({ id, createdAt });
      }
      const order = (rows: { id: string; createdAt: string }[]) =>
        rows
          .slice()
          .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1))
          .map((r) => r.id);

      async function walk(query: string, limit: number): Promise<{ seen: string[]; pages: number[] }> {
        const seen: string[] = [];
        const pages: number[] = [];
        let cursor: string | null = null;
        do {
          const page: request.Response = await get(`/v1/payments?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
          seen.push(...page.body.data.map((p: { id: string }) => p.id));
          pages.push(page.body.data.length);
          cursor = page.body.nextCursor;
          expect(pages.length).to.be.below(30);
        } while (cursor);
        return { seen, pages };
      }

      const all = await walk('', 5);
      expect(all.pages).to.deep.equal([5, 5, 5, 5, 3]);
      expect(new Set(all.seen).size).to.equal(23);
      expect(all.seen).to.deep.equal(order(expected));

      // A page size that divides the total: the last full page says there is no next one.
      const even = await get('/v1/payments?limit=23').expect(200);
      expect(even.body.data).to.have.length(23);
      expect(even.body.nextCursor).to.equal(null);

      const ofOther = await walk(`&customerId=${other}`, 2);
      const expectedOther = order(expected.filter((_, i) => i % 3 === 0));
      expect(ofOther.seen).to.deep.equal(expectedOther);
      expect(ofOther.pages).to.deep.equal([2, 2, 2, 2]);

      const paidSince = await walk('&status=PAID&from=2026-10-01T00:05:00Z', 3);
      expect(paidSince.seen).to.deep.equal(order(expected.filter((r, i) => i % 2 === 1 && r.createdAt >= '2026-10-01T00:05:00.000Z')));
    });
  });
});
