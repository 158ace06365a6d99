// The billing run: keyset pages of due PENDING invoices, charge jobs in bulk under deterministic ids, live counts.
import { expect } from 'chai';
import request from 'supertest';
import { upsertJobSchedulers } from '../../queues/schedules.js';
import { scheduledBillingRunId } from '../../shared/billing/runs.js';
import { createBillingTestSystem, insertPendingInvoices, type BillingTestSystem } from '../helpers/billing.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';

describe('billing run', () => {
  const opened = closedAfterEach();
  let t: BillingTestSystem;

  const api = () => request(t.system.app);
  const startRun = async (body: object = {}) =>
    (await api().post('/v1/billing/runs').set('Authorization', t.operator.auth).send(body).expect(202)).body as { id: string; status: string };
  const readRun = async (id: string) => (await api().get(`/v1/billing/runs/${id}`).set('Authorization', t.operator.auth).expect(200)).body;
  const runReaches = (id: string, status: string | string[], timeoutMs = 15_000) =>
    waitFor(async () => {
      const run = await readRun(id);
      return [status].flat().includes(run.status) && run;
    }, { what: `run ${id} ${String(status)}`, timeoutMs });

  it('charges the PENDING invoices due by the cutoff, and only those; the run and the payments show it', async () => {
    t = opened(await createBillingTestSystem());
    const due = await insertPendingInvoices(t.system.ctx.db, { customerId: t.customerId, count: 3, dueDate: '2026-11-01' });
    const later = await insertPendingInvoices(t.system.ctx.db, { customerId: t.customerId, count: 1, dueDate: '2026-12-15' });
    await insertPendingInvoices(t.system.ctx.db, { customerId: t.customerId, count: 1, paymentStatus: 'PAID' });
    t.system.startWorkers(['billing', 'charge']);

    const run = await startRun({ cutoffDate: '2026-12-01' });
    expect(run.status).to.equal('queued');
    const done = await runReaches(run.id, 'completed');
    expect(done.counts).to.deep.equal({ selected: 3, enqueued: 3, paid: 3, failed: 0, retrying: 0, pending: 0, awaitingSdi: 0 });
    expect(done.cutoffDate).to.equal('2026-12-01');
    expect(done.requestedBy).to.equal(`user:${t.operator.userId}`);

    const charged = t.sandbox.ledger.entries().map((e) => e.reference).sort();
    expect(charged).to.deep.equal([...due].sort());
    const payments = (await api().get('/v1/payments?status=PAID').set('Authorization', t.operator.auth).expect(200)).body;
    expect(payments.data.map((p: { invoiceId: string }) => p.invoiceId).sort()).to.deep.equal([...due].sort());
    const notDue = (await api().get(`/v1/invoices/${later[0]}`).set('Authorization', t.operator.auth).expect(200)).body;
    expect(notDue.paymentStatus).to.equal('PENDING');
  });

  it('pages through thousands of invoices, and two overlapping runs enqueue each one once', async () => {
    t = opened(await createBillingTestSystem());
    const ids = await insertPendingInvoices(t.system.ctx.db, { customerId: t.customerId, count: 2_500 });
    // Two billing workers, so the two runs really page at the same time.
    t.system.startWorkers(['billing']);
    t.system.startWorkers(['billing']);

    const [first, second] = [await startRun(), await startRun()];
    // Whichever run takes an invoice charges it; a run left with none has nothing to wait for.
    const runs = [await runReaches(first.id, ['charging', 'completed']), await runReaches(second.id, ['charging', 'completed'])];
    expect(runs[0].counts.enqueued + runs[1].counts.enqueued).to.equal(2_500);
    expect(runs[0].counts.selected).to.be.at.least(runs[0].counts.enqueued);
    expect(await t.system.ctx.queues.get('charge').getWaitingCount()).to.equal(2_500);

    t.system.startWorkers(['charge']);
    await runReaches(first.id, 'completed', 30_000);
    await runReaches(second.id, 'completed', 30_000);
    const ledger = t.sandbox.ledger.entries();
    expect(ledger).to.have.length(2_500);
    expect(new Set(ledger.map((e) => e.reference))).to.deep.equal(new Set(ids));
    const [{ n }] = await t.system.ctx.db('payments').count({ n: '*' }).where({ status: 'PAID' });
    expect(Number(n)).to.equal(2_500);

    // A run after the others finds nothing left to charge.
    const third = await startRun();
    expect((await runReaches(third.id, 'completed')).counts).to.include({ selected: 0, enqueued: 0 });
  });

  it('runs from the job scheduler’s own job, which carries no run id, end to end', async () => {
    // Every second rather than monthly: the scheduler's job is the same whatever the pattern.
    t = opened(await createBillingTestSystem({ BILLING_CRON: '* * * * * *' }));
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const due = await insertPendingInvoices(t.system.ctx.db, { customerId: t.customerId, count: 3, dueDate: yesterday });
    t.system.startWorkers(['billing', 'charge']);
    await upsertJobSchedulers(t.system.ctx.queues, t.system.config);

    const scheduled = await waitFor(async () => {
      const runs = (await api().get('/v1/billing/runs').set('Authorization', t.operator.auth).expect(200)).body.data as { id: string; requestedBy: string; status: string }[];
      return runs.find((r) => r.requestedBy === 'scheduler' && r.status === 'completed' && r);
    }, { what: 'a scheduled run to complete', timeoutMs: 15_000 });
    await t.system.ctx.queues.get('billing').removeJobScheduler('billing-run');

    expect(scheduled.id).to.be.a('string');
    const run = await readRun(scheduled.id);
    expect(run.counts).to.include({ selected: 3, enqueued: 3, paid: 3, failed: 0, pending: 0 });
    expect(run.cutoffDate).to.equal(new Date().toISOString().slice(0, 10));
    expect(t.sandbox.ledger.entries().map((e) => e.reference).sort()).to.deep.equal([...due].sort());
    // The job that did it was the scheduler's: no run id in its data, the run's id derived from its job id.
    const jobs = await t.system.ctx.queues.get('billing').getJobs(['completed']);
    const job = jobs.find((j) => (j.returnvalue as { runId?: string } | undefined)?.runId === scheduled.id);
    expect(job?.data).to.deep.equal({});
    expect(scheduledBillingRunId(job!.id!)).to.equal(scheduled.id);
  });

  it('lists runs newest first, and refuses a run to clients', async () => {
    t = opened(await createBillingTestSystem());
    const older = await startRun();
    const newer = await startRun();
    const list = (await api().get('/v1/billing/runs').set('Authorization', t.operator.auth).expect(200)).body;
    expect(list.data.map((r: { id: string }) => r.id)).to.deep.equal([newer.id, older.id]);
    expect(list.nextCursor).to.equal(null);
    await api().get('/v1/billing/runs/nope').set('Authorization', t.operator.auth).expect(404);
    await api().post('/v1/billing/runs').set('Authorization', t.operator.auth).send({ cutoffDate: '2026-13-01' }).expect(400);
  });
});
