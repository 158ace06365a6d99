// The orders API: placing an order (validation, scoping, Idempotency-Key), reading it with its history, listing and paging, and canceling it while created.
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { FINAL_ORDER_STATUSES } from '../../shared/orders/status.js';
import { newId } from '../../shared/platform/ids.js';
import { addCustomer, addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createOrdersTestSystem, type OrdersTestSystem } from '../helpers/orders.js';
import { Receiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

interface EventJson {
  from: string | null;
  to: string;
  actor: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('orders API', () => {
  const opened = closedAfterEach();
  let t: OrdersTestSystem;
  let client: { userId: string; auth: string };

  beforeEach(async () => {
    t = opened(await createOrdersTestSystem());
    client = await addUser(t.system.ctx.db, 'client', [t.customerId]);
  });

  const order = (body: Record<string, unknown> = {}) => ({ customerId: t.customerId, amount: '12.50', currency: 'EUR', ...body });
  const post = (body: unknown, auth = client.auth) => request(t.system.app).post('/v1/orders').set('Authorization', auth).send(body as object);
  const get = (path: string, auth = client.auth) => request(t.system.app).get(path).set('Authorization', auth);
  const cancel = (id: string, auth = client.auth) => request(t.system.app).delete(`/v1/orders/${id}`).set('Authorization', auth);
  const orderRows = async () => Number((await t.system.ctx.db('orders').count({ n: '*' }))[0]!.n);
  const checkoutJob = (id: string) => t.system.ctx.queues.getJob('orders', jobIds.orderStep(id, 'checkout'));
  const checkoutDone = (id: string) => waitFor(async () => (await checkoutJob(id))?.finishedOn !== undefined, { what: `the checkout job of ${id} to finish` });

  describe('POST /v1/orders', () => {
    it('accepts an order as created, with its links and Location, and queues its checkout', async () => {
      const res = await post(order()).expect(202);
      expect(res.body).to.include({ status: 'created', amount: '12.50', currency: 'EUR', customerId: t.customerId, userId: client.userId, callbackUrl: null, paymentId: null });
      expect(res.body.id).to.match(UUID);
      expect(res.body.links).to.deep.equal({ self: `/v1/orders/${res.body.id}` });
      expect(res.headers.location).to.equal(`/v1/orders/${res.body.id}`);
      expect(res.headers['idempotent-replayed']).to.equal(undefined);
      expect((await checkoutJob(res.body.id))?.data).to.deep.equal({ orderId: res.body.id });
    });

    it('reads the amount as a number or a string, answering it with two decimals', async () => {
      expect((await post(order({ amount: 12.5 })).expect(202)).body.amount).to.equal('12.50');
      expect((await post(order({ amount: '12.5' })).expect(202)).body.amount).to.equal('12.50');
    });

    it('refuses a bad body with 400 naming the failing field, and places nothing', async () => {
      const fields = async (body: unknown) => {
        const res = await post(body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.error.code).to.equal('invalid_request');
        return (res.body.error.details as { field: string; message: string }[]).map((d) => d.field);
      };
      for (const amount of [0, -1, 'abc', '1.234', 1e21, '10,00', '0.00']) {
        expect(await fields(order({ amount })), `amount ${amount}`).to.deep.equal(['amount']);
      }
      expect(await fields({ customerId: t.customerId, amount: '12.50' })).to.deep.equal(['currency']);
      expect(await fields(order({ currency: 'eur' }))).to.deep.equal(['currency']);
      const notTheCustomers = await post(order({ currency: 'USD' })).expect(400);
      expect(notTheCustomers.body.error.details).to.deep.equal([{ field: 'currency', message: `customer ${t.customerId} pays in EUR` }]);
      const unknown = await post(order({ customerId: 'cust-nobody' }), t.operator.auth).expect(400);
      expect(unknown.body.error.details).to.deep.equal([{ field: 'customerId', message: 'no customer cust-nobody' }]);
      const { amount, ...rest } = order();
      const typo = await post({ ...rest, amout: amount }).expect(400);
      expect(typo.body.error.details).to.deep.include({ field: 'amout', message: 'unknown field' });
      for (const callbackUrl of ['ftp://127.0.0.1/hooks', 'not a url', 'http://10.0.0.1/x', 'http://169.254.169.254/latest']) {
        expect(await fields(order({ callbackUrl })), callbackUrl).to.deep.equal(['callbackUrl']);
      }
      const json = await post('{"customerId":').set('content-type', 'application/json').expect(400);
      expect(json.body.error.code).to.equal('invalid_json');
      await post('customerId=x').set('content-type', 'text/plain').expect(400);

      expect(await orderRows()).to.equal(0);
      expect(await t.system.ctx.queues.get('orders').getJobCounts('waiting', 'delayed')).to.deep.equal({ waiting: 0, delayed: 0 });
    });

    it('takes a callback URL on an allowlisted local host', async () => {
      const res = await post(order({ callbackUrl: 'http://127.0.0.1:9/hooks' })).expect(202);
      expect(res.body.callbackUrl).to.equal('http://127.0.0.1:9/hooks');
    });

    it('refuses a client key not linked to the customer (403) and a request without a key (401)', async () => {
      const theirs = await addCustomer(t.system.ctx.db);
      expect((await post(order({ customerId: theirs })).expect(403)).body.error.code).to.equal('forbidden');
      await post(order({ customerId: 'cust-nobody' })).expect(403);
      await request(t.system.app).post('/v1/orders').send(order()).expect(401);
      expect(await orderRows()).to.equal(0);
      // The operator may place it.
      expect((await post(order({ customerId: theirs }), t.operator.auth).expect(202)).body.userId).to.equal(t.operator.userId);
    });
  });

  describe('Idempotency-Key', () => {
    it('answers a repeat with the same key and body with the first order, once placed and once queued', async () => {
      const first = await post(order()).set('Idempotency-Key', 'order-1').expect(202);
      // The same body with its fields in another order is the same request.
      const again = await post({ currency: 'EUR', amount: '12.50', customerId: t.customerId }).set('Idempotency-Key', 'order-1').expect(202);
      expect(again.body).to.deep.equal(first.body);
      expect(again.headers['idempotent-replayed']).to.equal('true');
      expect(again.headers.location).to.equal(`/v1/orders/${first.body.id}`);
      expect(await orderRows()).to.equal(1);
      expect(await t.system.ctx.queues.get('orders').getJobCounts('waiting')).to.deep.equal({ waiting: 1 });

      t.system.startWorkers(['orders', 'mail', 'callback']);
      await t.waitForStatus(first.body.id, 'finished');
      expect(t.payments.ledger.entries({ reference: first.body.id })).to.have.length(1);
      expect(t.payments.ledger.entries()).to.have.length(1);
    });

    it('refuses the same key with another body (422), and places nothing for it', async () => {
      await post(order()).set('Idempotency-Key', 'order-2').expect(202);
      const reused = await post(order({ amount: '99.00' })).set('Idempotency-Key', 'order-2').expect(422);
      expect(reused.body.error.code).to.equal('idempotency_key_reused');
      expect(await orderRows()).to.equal(1);
    });
  });

  describe('GET /v1/orders/:id', () => {
    it('shows a created order with its first event and no payment yet', async () => {
      const placed = (await post(order())).body;
      const res = await get(`/v1/orders/${placed.id}`).expect(200);
      expect(res.body).to.deep.include({ id: placed.id, status: 'created', payment: null, refund: null, fulfilment: { id: null, calls: 0 }, mails: [], callbacks: [] });
      expect(res.body.events).to.have.length(1);
      expect(res.body.events[0]).to.include({ from: null, to: 'created', actor: `user:${client.userId}` });
    });

    it('answers 404 for the order of a customer the client is not linked to, exactly as for an unknown id', async () => {
      const theirs = await addCustomer(t.system.ctx.db);
      const foreign = await t.place({ customerId: theirs });
      const hidden = await get(`/v1/orders/${foreign.id}`).expect(404);
      const missing = await get(`/v1/orders/${newId()}`).expect(404);
      expect(hidden.text).to.equal(missing.text);
      expect(hidden.body.error.code).to.equal('not_found');
      await get(`/v1/orders/${foreign.id}`, t.operator.auth).expect(200);
    });

    it('shows a finished order with its paid payment, its fulfilment, no refund, no mail and no callbacks', async () => {
      const placed = (await post(order())).body;
      t.system.startWorkers(['orders', 'mail', 'callback']);
      await t.waitForStatus(placed.id, 'finished');
      const done = (await get(`/v1/orders/${placed.id}`).expect(200)).body;
      const [charge] = t.payments.ledger.entries({ reference: placed.id });
      expect(done.payment).to.include({ id: done.paymentId, status: 'PAID', providerChargeId: charge!.id });
      expect(done.fulfilment.id).to.be.a('string').and.equal(done.fulfilmentId);
      expect(done.fulfilment.calls).to.be.at.least(1);
      expect(done).to.deep.include({ refund: null, mails: [], callbacks: [] });
      expect(done.links).to.deep.equal({ self: `/v1/orders/${placed.id}`, payment: `/v1/payments/${done.paymentId}` });
      expect(done.events.map((e: EventJson) => e.to)).to.deep.equal(['created', 'pendingPayment', 'awaitingPayment', 'awaitingFulfillment', 'finished']);
    });
  });

  describe('GET /v1/orders', () => {
    /** Places an order as the operator and dates it. */
    const add = async (createdAt: string, body: Record<string, unknown> = {}) => {
      const { id } = await t.place(body);
      await t.system.ctx.db('orders').where({ id }).update({ created_at: createdAt, updated_at: createdAt });
      return id;
    };
    const ids = async (query: string, auth = t.operator.auth): Promise<string[]> => {
      const res = await get(`/v1/orders${query}`, auth).expect(200);
      expect(res.body.nextCursor).to.equal(null);
      return res.body.data.map((o: { id: string }) => o.id);
    };

    it('filters by status, customer and time (days and instants), newest first', async () => {
      const other = await addCustomer(t.system.ctx.db);
      const o1 = await add('2026-11-01T00:00:00.000Z');
      const o2 = await add('2026-11-01T20:00:00.000Z', { customerId: other });
      const o3 = await add('2026-11-02T12:00:00.000Z');
      const o4 = await add('2026-11-03T23:59:59.999Z', { customerId: other });
      await cancel(o3, t.operator.auth).expect(200);

      expect(await ids('')).to.deep.equal([o4, o3, o2, o1]);
      expect(await ids('?status=canceled')).to.deep.equal([o3]);
      expect(await ids('?status=created')).to.deep.equal([o4, o2, o1]);
      expect(await ids('?status=finished')).to.deep.equal([]);
      expect(await ids(`?customerId=${other}`)).to.deep.equal([o4, o2]);
      expect(await ids('?customerId=cust-nobody')).to.deep.equal([]);
      // Days are whole UTC days, both ends included.
      expect(await ids('?from=2026-11-01&to=2026-11-01')).to.deep.equal([o2, o1]);
      expect(await ids('?from=2026-11-02')).to.deep.equal([o4, o3]);
      expect(await ids('?to=2026-11-02')).to.deep.equal([o3, o2, o1]);
      expect(await ids('?from=2026-11-03&to=2026-11-03')).to.deep.equal([o4]);
      // Instants are exact, in any offset.
      const q = (params: Record<string, string>) => `?${new URLSearchParams(params)}`;
      expect(await ids(q({ from: '2026-11-01T20:00:00Z', to: '2026-11-02T12:00:00Z' }))).to.deep.equal([o3, o2]);
      expect(await ids(q({ from: '2026-11-01T20:00:00.001Z', to: '2026-11-03T23:59:59.998Z' }))).to.deep.equal([o3]);
      expect(await ids(q({ from: '2026-11-01T22:00:00+02:00', to: '2026-11-02T13:00:00+01:00' }))).to.deep.equal([o3, o2]);
      expect(await ids(`?customerId=${t.customerId}&status=created&from=2026-11-01`)).to.deep.equal([o1]);
    });

    it('pages with limit and cursor, without overlap, ending with a null cursor', async () => {
      const base = Date.parse('2026-10-01T00:00:00.000Z');
      const placed: string[] = [];
      // Pairs share an instant, so the id breaks ties.
      for (let i = 0; i < 7; i++) placed.push(await add(new Date(base + Math.floor(i / 2) * 60_000).toISOString()));
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const page: request.Response = await get(`/v1/orders?limit=3${cursor ? `&cursor=${cursor}` : ''}`, t.operator.auth).expect(200);
        seen.push(...page.body.data.map((o: { id: string }) => o.id));
        sizes.push(page.body.data.length);
        cursor = page.body.nextCursor;
      } while (cursor && sizes.length < 10);
      expect(sizes).to.deep.equal([3, 3, 1]);
      expect(new Set(seen).size).to.equal(7);
      expect(seen).to.have.members(placed);
      const exact = await get('/v1/orders?limit=7', t.operator.auth).expect(200);
      expect(exact.body.data.map((o: { id: string }) => o.id)).to.deep.equal(seen);
      expect(exact.body.nextCursor).to.equal(null);
    });

    it("shows a client only its customers' orders", async () => {
      const theirs = await addCustomer(t.system.ctx.db);
      const own = (await post(order())).body.id;
      const foreign = await t.place({ customerId: theirs });
      expect(await ids('', client.auth)).to.deep.equal([own]);
      expect(await ids(`?customerId=${theirs}`, client.auth)).to.deep.equal([]);
      expect(await ids('', t.operator.auth)).to.deep.equal([foreign.id, own]);
    });

    it('refuses an unknown query parameter or a bad filter with 400 naming it', async () => {
      for (const bad of ['state=created', 'status=shipped', 'from=yesterday', 'to=2026-11-01T10:00:00', 'limit=0', 'limit=501', 'cursor=nonsense']) {
        const res = await get(`/v1/orders?${bad}`).expect(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field), bad).to.deep.equal([bad.split('=')[0]]);
      }
    });
  });

  describe('DELETE /v1/orders/:id', () => {
    it('cancels a created order, and refuses a second cancel with 409 and its status', async () => {
      const placed = (await post(order())).body;
      const res = await cancel(placed.id).expect(200);
      expect(res.body).to.include({ id: placed.id, status: 'canceled' });
      const events: EventJson[] = (await get(`/v1/orders/${placed.id}`).expect(200)).body.events;
      expect(events.map((e) => e.to)).to.deep.equal(['created', 'canceled']);
      expect(events.at(-1)).to.include({ from: 'created', to: 'canceled', actor: `user:${client.userId}` });

      const again = await cancel(placed.id).expect(409);
      expect(again.body.error.code).to.equal('order_not_cancelable');
      expect(again.body.error.details.status).to.equal('canceled');
    });

    it('refuses to cancel an order checkout has taken, with 409 and where it stands', async () => {
      const placed = (await post(order())).body;
      t.system.startWorkers(['orders', 'mail', 'callback']);
      await t.waitForStatus(placed.id, ['pendingPayment', 'awaitingPayment', 'awaitingFulfillment', 'finished']);
      const refused = await cancel(placed.id).expect(409);
      expect(refused.body.error.code).to.equal('order_not_cancelable');
      const { status } = refused.body.error.details;
      expect(['pendingPayment', 'awaitingPayment', 'awaitingFulfillment', 'finished']).to.include(status);
      expect(refused.body.error.message).to.include(status);
      const done = await t.waitForStatus(placed.id, 'finished');
      expect((done.events as EventJson[]).map((e) => e.to)).to.not.include('canceled');
      expect((await cancel(placed.id).expect(409)).body.error.details.status).to.equal('finished');
    });

    it('never charges nor fulfils a canceled order once workers start', async () => {
      const placed = (await post(order())).body;
      await cancel(placed.id).expect(200);
      t.system.startWorkers(['orders', 'mail', 'callback']);
      await checkoutDone(placed.id);
      expect((await checkoutJob(placed.id))!.returnvalue).to.deep.equal({ status: 'canceled' });
      const after = await t.read(placed.id);
      expect(after.status).to.equal('canceled');
      expect((after.events as EventJson[]).map((e) => e.to)).to.deep.equal(['created', 'canceled']);
      expect(after.payment).to.equal(null);
      expect(t.payments.ledger.entries({ reference: placed.id })).to.deep.equal([]);
      expect(t.fulfilment.fulfilments.filter((f) => f.orderId === placed.id)).to.deep.equal([]);
    });

    it("tells the order's callback URL it was canceled", async () => {
      const receiver = opened(await Receiver.start());
      const placed = (await post(order({ callbackUrl: `http://127.0.0.1:${receiver.port}/hooks` }))).body;
      await cancel(placed.id).expect(200);
      t.system.startWorkers(['callback']);
      await waitFor(() => receiver.requests.length >= 1, { what: 'the order.status callback' });
      expect(JSON.parse(receiver.requests[0]!.body)).to.deep.include({ type: 'order.status' });
      expect(JSON.parse(receiver.requests[0]!.body).data).to.include({ id: placed.id, status: 'canceled' });
      expect(receiver.requests).to.have.length(1);
    });

    it('answers 404 for an order the client cannot see, and leaves it as it is', async () => {
      const foreign = await t.place({ customerId: await addCustomer(t.system.ctx.db) });
      const hidden = await cancel(foreign.id).expect(404);
      expect(hidden.text).to.equal((await cancel(newId()).expect(404)).text);
      expect((await t.read(foreign.id)).status).to.equal('created');
    });

    it('gives a cancel racing the checkout exactly one winner', async function () {
      this.timeout(60_000);
      t.system.startWorkers(['orders', 'mail', 'callback']);
      await t.waitForStatus((await t.place()).id, 'finished'); // the workers are up
      // Forty orders at once, each canceled as soon as it is accepted, or (every other one) as soon as its checkout starts.
      const raced = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const { id } = (await post(order()).expect(202)).body;
          if (i % 2) await waitFor(async () => (await checkoutJob(id))?.processedOn !== undefined, { intervalMs: 1, what: `the checkout of ${id} to start` });
          const res = await cancel(id);
          return { id, status: res.status, body: res.body };
        }),
      );
      for (const { id } of raced) await checkoutDone(id);
      const finals = await Promise.all(raced.map(({ id }) => t.waitForStatus(id, [...FINAL_ORDER_STATUSES], 30_000)));

      raced.forEach(({ id, status, body }, i) => {
        const final = finals[i]!;
        const events = (final.events as EventJson[]).map((e) => e.to);
        expect([200, 409], id).to.include(status);
        expect(events.slice(0, 2), id).to.deep.equal(['created', status === 200 ? 'canceled' : 'pendingPayment']);
        expect(events.filter((s) => s === 'canceled' || s === 'pendingPayment'), id).to.have.length(1);
        if (status === 200) {
          expect(final.status, id).to.equal('canceled');
          expect(events, id).to.deep.equal(['created', 'canceled']);
          expect(t.payments.ledger.entries({ reference: id }), id).to.deep.equal([]);
          expect(t.fulfilment.fulfilments.filter((f) => f.orderId === id), id).to.deep.equal([]);
        } else {
          expect(body.error.code, id).to.equal('order_not_cancelable');
          expect(body.error.details.status, id).to.not.be.oneOf(['created', 'canceled']);
          expect(final.status, id).to.not.equal('canceled');
        }
      });
    });
  });

  it('lists the four order operations in the OpenAPI document', async () => {
    const { paths } = (await request(t.system.app).get('/openapi.json').expect(200)).body;
    expect(paths['/v1/orders']).to.include.keys('post', 'get');
    expect(paths['/v1/orders/{id}']).to.include.keys('get', 'delete');
  });
});
