// Proof of exactly once for orders (slow): 500 orders, a flaky provider and fulfilment service that lose answers, two worker processes, one SIGKILLed every second.
import { expect } from 'chai';
import request from 'supertest';
import { FINAL_ORDER_STATUSES } from '../../shared/orders/status.js';
import { addCustomer } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createOrdersTestSystem, type OrdersTestSystem } from '../helpers/orders.js';
import { waitFor } from '../helpers/wait.js';
import { killWorkerProcess, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

const ORDERS = 500;
/** One order in ten is for a customer who cannot pay: those fail, and the customer is emailed. */
const BROKE_EVERY = 10;
/** One order in ten is canceled as soon as it is placed, racing its checkout. */
const CANCEL_EVERY = 10;

describe('orders exactly once under fire (slow)', () => {
  const opened = closedAfterEach();
  let t: OrdersTestSystem;

  it('ends every order final, charging paid orders once, refunding refunded orders once, fulfilling at most once and only paid orders', async function () {
    this.timeout(240_000);
    // 10% of provider and fulfilment calls fail: half answer 503 before doing anything, half do it and lose the answer.
    // The provider forgets keys after a second, so a retry must ask its ledger; 5% of fulfilments are refused for good.
    t = opened(
      await createOrdersTestSystem(
        {},
        {
          payments: { latencyMs: [0, 30], rates: { serverError: 0.05, timeout: 0.05 }, timeoutHoldMs: 1_000, forgetKeysAfterMs: 1_000 },
          fulfilment: { latencyMs: [0, 30], rates: { failure: 0.05, timeout: 0.05, refuse: 0.05 }, timeoutHoldMs: 1_000 },
        },
      ),
    );
    const { db } = t.system.ctx;
    const broke = await addCustomer(db);
    t.payments.ledger.setAccount(broke, { balance: 0, currency: 'EUR' });

    const env = {
      WORKER_QUEUES: 'orders,mail',
      PAYMENT_PROVIDER_URL: t.payments.url,
      PAYMENT_PROVIDER_TIMEOUT_MS: '500',
      FULFILMENT_URL: t.fulfilment.url,
      FULFILMENT_TIMEOUT_MS: '500',
      SMTP_URL: t.mail.url,
      // A killed worker's jobs go back to the others after 2 s rather than 30.
      JOB_LOCK_MS: '2000',
      RETRY_BASE_DELAY_MS: '50',
      LOG_LEVEL: 'warn',
    };
    const steady = startWorkerProcess(t.system, env);
    const victims: WorkerProcess[] = [];
    let victim: WorkerProcess | undefined;
    let kills = 0;
    let fire = true;
    const firing = (async () => {
      while (fire) {
        victim = startWorkerProcess(t.system, { ...env, LOG_LEVEL: 'info' });
        victims.push(victim);
        await Promise.race([victim.logged(/"msg":"workers started"/), victim.exited]);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await killWorkerProcess(victim);
        kills++;
      }
    })();
    opened({
      async close() {
        fire = false;
        await firing;
        await Promise.all([killWorkerProcess(victim), killWorkerProcess(steady)]);
      },
    });

    // Placed through the API, ten at a time; every tenth canceled at once, racing the checkout.
    const ids: string[] = [];
    const cancels = new Map<string, number>();
    for (let n = 0; n < ORDERS; n += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const k = n + i;
          const customerId = k % BROKE_EVERY === 3 ? broke : t.customerId;
          const { id } = await t.place({ customerId, amount: `${(k % 90) + 10}.${String(k % 100).padStart(2, '0')}` });
          ids.push(id);
          if (k % CANCEL_EVERY === 7) {
            const res = await request(t.system.app).delete(`/v1/orders/${id}`).set('Authorization', t.operator.auth);
            cancels.set(id, res.status);
          }
        }),
      );
    }

    const unfinished = async () => Number((await db('orders').count({ n: '*' }).whereNotIn('status', FINAL_ORDER_STATUSES))[0]!.n);
    await waitFor(async () => (await unfinished()) === 0, { timeoutMs: 180_000, intervalMs: 250, what: 'every order final' });
    const mailsPending = async () => Number((await db('mails').count({ n: '*' }).whereNot({ status: 'sent' }))[0]!.n);
    await waitFor(async () => (await mailsPending()) === 0, { timeoutMs: 60_000, intervalMs: 250, what: 'every customer mail sent' });
    fire = false;
    await firing;
    expect(kills).to.be.greaterThan(2);
    const victimLines = victims.flatMap((v) => v.lines);
    expect(victimLines.filter((l) => l.includes('"msg":"order charged"')).length, 'charges made by the killed processes').to.be.greaterThan(0);

    const orders: { id: string; status: string; customer_id: string; amount_cents: string | number; payment_id: string | null }[] = await db('orders').select(
      'id',
      'status',
      'customer_id',
      'amount_cents',
      'payment_id',
    );
    expect(orders).to.have.length(ORDERS);
    const having = (status: string) => new Set(orders.filter((o) => o.status === status).map((o) => o.id));
    const [finished, refunded, failed, canceled] = ['finished', 'refunded', 'failed', 'canceled'].map(having) as [Set<string>, Set<string>, Set<string>, Set<string>];
    expect(finished.size + refunded.size + failed.size + canceled.size).to.equal(ORDERS);
    expect(finished.size, 'finished orders').to.be.greaterThan(ORDERS / 2);
    expect(refunded.size, 'refunded orders').to.be.greaterThan(0);
    expect(failed.size, 'failed orders').to.be.greaterThan(0);

    // A cancel answered 200 won the race: the order is canceled; a 409 lost it: the order went on.
    for (const [id, status] of cancels) {
      if (status === 200) expect(canceled.has(id), `order ${id} answered 200 to its cancel`).to.equal(true);
      else expect([status, canceled.has(id)], `order ${id}`).to.deep.equal([409, false]);
    }
    expect(canceled.size).to.equal([...cancels.values()].filter((s) => s === 200).length);

    // The provider's ledger: exactly one successful charge per paid order (finished or refunded), none for any other.
    const paid = new Set([...finished, ...refunded]);
    const charges = t.payments.ledger.entries().filter((e) => e.charged);
    expect(charges.map((c) => c.reference).sort()).to.deep.equal([...paid].sort());
    const amountOf = new Map(orders.map((o) => [o.id, Number(o.amount_cents)]));
    for (const c of charges) expect(c.amount, `charge of ${c.reference}`).to.equal(amountOf.get(c.reference));
    expect(orders.filter((o) => o.customer_id === broke && paid.has(o.id))).to.have.length(0);

    // Exactly one refund per refunded order, of its charge and its whole amount; none for any other.
    const refunds = t.payments.ledger.refunds();
    expect(refunds.map((r) => r.reference).sort()).to.deep.equal([...refunded].sort());
    const chargeOf = new Map(charges.map((c) => [c.reference, c]));
    for (const r of refunds) expect([r.chargeId, r.amount]).to.deep.equal([chargeOf.get(r.reference)!.id, chargeOf.get(r.reference)!.amount]);

    // Fulfilled at most once per order (by its idempotency key), and only orders that were paid and are finished.
    const fulfilled = t.fulfilment.fulfilments.map((f) => f.orderId);
    expect(new Set(fulfilled).size, 'one fulfilment per order').to.equal(fulfilled.length);
    expect(fulfilled.sort()).to.deep.equal([...finished].sort());

    // Our payments match the ledger: PAID for finished orders, REFUNDED for refunded ones, with the provider's charge.
    const payments: { order_id: string; status: string; provider_charge_id: string }[] = await db('payments').select('order_id', 'status', 'provider_charge_id').where({ kind: 'order' });
    for (const p of payments.filter((p) => paid.has(p.order_id))) {
      expect([p.status, p.provider_charge_id]).to.deep.equal([finished.has(p.order_id) ? 'PAID' : 'REFUNDED', chargeOf.get(p.order_id)!.id]);
    }

    // Every order the balance could not pay was failed and its customer emailed (a mail killed mid-send may arrive twice, under one Message-ID).
    const shortOfMoney: { id: string }[] = await db('orders').select('id').where({ status: 'failed', reason: 'insufficient balance' });
    expect(shortOfMoney.length).to.be.greaterThan(0);
    const mailed = new Set(t.mail.mails.map((m) => m.messageId));
    const mails: { id: string; subject_id: string }[] = await db('mails').select('id', 'subject_id');
    expect(mails.map((m) => m.subject_id).sort()).to.deep.equal(shortOfMoney.map((o) => o.id).sort());
    expect(mailed.size).to.equal(mails.length);
  });
});
