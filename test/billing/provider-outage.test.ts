// The payment provider down for longer than the old retry window: the charges wait (the breaker pauses the queue) and each invoice is charged once after it returns.
import { expect } from 'chai';
import request from 'supertest';
import { queuePolicies, retryWindowMs } from '../../queues/policy.js';
import { PaymentSandbox } from '../../scripts/sandboxes/payment-provider.js';
import { createBillingTestSystem, insertPendingInvoices, type BillingTestSystem } from '../helpers/billing.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';

const BASE_MS = 5;
/** What the charge queue retried before: 8 attempts, doubling from the base: about two minutes at the default base, 0.8 s here. */
const OLD_CHARGE_WINDOW_MS = retryWindowMs({ attempts: 8, backoff: { kind: 'exponential', baseMs: BASE_MS, capMs: 3_600_000, jitter: 0.2 } }, () => 0.999);

describe('payment provider outage', () => {
  const opened = closedAfterEach();
  let t: BillingTestSystem;

  it('charges every invoice exactly once after an outage longer than the old retry window, with nothing in the DLQ', async function () {
    this.timeout(60_000);
    t = opened(await createBillingTestSystem({ RETRY_BASE_DELAY_MS: String(BASE_MS), PAYMENT_BREAKER_RESET_MS: '250' }));
    const { db } = t.system.ctx;
    const ids = await insertPendingInvoices(db, { customerId: t.customerId, count: 40 });
    const port = Number(new URL(t.sandbox.url).port);
    const { ledger } = t.sandbox;

    // The provider goes away: connections are refused.
    await t.sandbox.close();
    t.system.startWorkers(['billing', 'charge']);
    await request(t.system.app).post('/v1/billing/runs').set('Authorization', t.operator.auth).send({}).expect(202);
    await waitFor(async () => (await t.system.ctx.queues.get('charge').getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized')) === ids.length, {
      what: 'every charge job queued',
    });
    const outageMs = 4 * OLD_CHARGE_WINDOW_MS;
    const downSince = Date.now();
    await waitFor(() => Date.now() - downSince >= outageMs, { what: 'the outage to last', timeoutMs: outageMs + 5000, intervalMs: 100 });
    expect(await t.system.ctx.queues.get('charge').getFailedCount(), 'jobs in the DLQ during the outage').to.equal(0);

    // It comes back on the same address with the same books.
    const back = opened(await PaymentSandbox.start({ port, ledger }));
    await waitFor(async () => Number((await db('invoices').count({ n: '*' }).where({ payment_status: 'PAID' }))[0]!.n) === ids.length, {
      what: 'every invoice PAID',
      timeoutMs: 40_000,
    });
    expect(back.ledger.entries().filter((e) => e.charged).map((e) => e.reference)).to.have.members(ids);
    expect(await t.system.ctx.queues.get('charge').getFailedCount()).to.equal(0);
    const attempts = (await t.system.ctx.queues.get('charge').getCompleted(0, -1)).map((j) => j.attemptsMade);
    expect(Math.max(...attempts)).to.be.lessThan(queuePolicies(t.system.config).charge.attempts);
  });
});
