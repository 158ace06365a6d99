// Proof of exactly once (slow): 2,000 invoices, two worker processes, one SIGKILLed every second, a flaky and forgetful provider, two runs.
import { expect } from 'chai';
import request from 'supertest';
import { createBillingTestSystem, insertPendingInvoices, type BillingTestSystem } from '../helpers/billing.js';
import { addCustomer } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';
import { killWorkerProcess, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

const INVOICES = 2_000;
/** One invoice in ten belongs to a customer who cannot pay: those end FAILED after dunning, under fire too. */
const BROKE = 200;

describe('exactly once under fire (slow)', () => {
  const opened = closedAfterEach();
  let t: BillingTestSystem;

  it('charges every PAID invoice exactly once and no other, whatever dies', async function () {
    this.timeout(180_000);
    // 10% of calls fail as network errors: half answer 503 before charging, half charge and lose the answer. And the
    // provider forgets every key after a second (Stripe keeps them a day): a retry with the same key would charge again.
    t = opened(
      await createBillingTestSystem({}, { sandbox: { latencyMs: [0, 40], rates: { serverError: 0.05, timeout: 0.05 }, timeoutHoldMs: 2_000, forgetKeysAfterMs: 1_000 } }),
    );
    const { db } = t.system.ctx;
    const broke = await addCustomer(db);
    t.sandbox.ledger.setAccount(broke, { balance: 0, currency: 'EUR' });
    await insertPendingInvoices(db, { customerId: t.customerId, count: INVOICES - BROKE });
    await insertPendingInvoices(db, { customerId: broke, count: BROKE });

    const env = {
      WORKER_QUEUES: 'billing,charge',
      PAYMENT_PROVIDER_URL: t.sandbox.url,
      PAYMENT_PROVIDER_TIMEOUT_MS: '500',
      // A killed worker's jobs go back to the others after 2 s rather than 30.
      JOB_LOCK_MS: '2000',
      RETRY_BASE_DELAY_MS: '50',
      DUNNING_DAYS: '0.00001',
      LOG_LEVEL: 'warn',
    };
    const steady = startWorkerProcess(t.system, env);
    // The victim works for one second once it is up, dies by SIGKILL, and starts again; it logs each charge,
    // to show it took part.
    const victims: WorkerProcess[] = [];
    let victim: WorkerProcess | undefined;
    let kills = 0;
    let fire = true;
    const ceaseFire = () => (fire = false);
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
        ceaseFire();
        await firing;
        await Promise.all([killWorkerProcess(victim), killWorkerProcess(steady)]);
      },
    });

    const startRun = async () =>
      (await request(t.system.app).post('/v1/billing/runs').set('Authorization', t.operator.auth).send({}).expect(202)).body.id as string;
    const first = await startRun();
    // The second run starts while the first is paging or charging.
    await waitFor(async () => (await db('invoices').count({ n: '*' }).where({ billing_run_id: first }))[0]?.n !== 0, { what: 'the first run to take invoices' });
    const second = await startRun();

    const settled = async () => Number((await db('invoices').count({ n: '*' }).whereIn('payment_status', ['PAID', 'FAILED']))[0]!.n);
    await waitFor(async () => (await settled()) === INVOICES, { timeoutMs: 150_000, intervalMs: 250, what: 'every invoice PAID or FAILED' });
    ceaseFire();
    await firing;
    expect(kills).to.be.greaterThan(2);
    const chargedByVictims = victims.flatMap((v) => v.lines).filter((l) => l.includes('"msg":"charge paid"')).length;
    expect(chargedByVictims, 'charges made by the killed processes').to.be.greaterThan(0);

    const invoices: { id: string; payment_status: string; customer_id: string; total_cents: string | number }[] = await db('invoices').select('id', 'payment_status', 'customer_id', 'total_cents');
    const paid = invoices.filter((i) => i.payment_status === 'PAID');
    expect(paid.map((i) => i.customer_id)).to.not.include(broke);
    expect(invoices.filter((i) => i.payment_status === 'FAILED').map((i) => i.customer_id)).to.have.members(Array(BROKE).fill(broke));

    // The provider's ledger: one successful charge per PAID invoice, none for any other.
    const charges = t.sandbox.ledger.entries().filter((e) => e.charged);
    expect(charges).to.have.length(paid.length);
    expect(new Set(charges.map((c) => c.reference))).to.deep.equal(new Set(paid.map((i) => i.id)));

    // Our payments match the ledger, charge for charge.
    const payments: { invoice_id: string; provider_charge_id: string; amount_cents: string | number }[] = await db('payments')
      .select('invoice_id', 'provider_charge_id', 'amount_cents')
      .where({ status: 'PAID' });
    expect(payments).to.have.length(paid.length);
    const byReference = new Map(charges.map((c) => [c.reference, c]));
    for (const p of payments) {
      const charge = byReference.get(p.invoice_id)!;
      expect(p.provider_charge_id).to.equal(charge.id);
      expect(Number(p.amount_cents)).to.equal(charge.amount);
    }
    expect(t.sandbox.ledger.getAccount(t.customerId)!.balance).to.equal(1_000_000_00 - charges.reduce((sum, c) => sum + c.amount, 0));

    // The second run took only what the first had not: together they enqueued each invoice once.
    const run = async (id: string) => (await request(t.system.app).get(`/v1/billing/runs/${id}`).set('Authorization', t.operator.auth).expect(200)).body;
    const [a, b] = [await run(first), await run(second)];
    expect(a.counts.enqueued + b.counts.enqueued).to.equal(INVOICES);
    expect(a.counts.paid + b.counts.paid).to.equal(paid.length);
  });
});
