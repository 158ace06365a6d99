// The worker fleet: "attempt n of m" on each failure, the give-up hook once on the last, unrecoverable errors at once.
import { UnrecoverableError, type QueueEvents } from 'bullmq';
import { expect } from 'chai';
import sinon from 'sinon';
import type { HandlerRegistry } from '../../workers/types.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { captureLogs, type LogLine } from '../helpers/logs.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('worker failures', () => {
  let system: TestSystem;
  let events: QueueEvents;
  let lines: LogLine[];

  const opened = closedAfterEach();
  beforeEach(async () => {
    system = opened(await createTestSystem({ JOB_ATTEMPTS: 'reports=3' }));
    ({ log: system.ctx.log, lines } = captureLogs());
    events = await system.events('reports');
  });
  afterEach(() => sinon.restore());

  async function runToFailure(registry: Partial<HandlerRegistry>) {
    system.startWorkers(['reports'], registry);
    const job = await system.ctx.queues.add('reports', 'dlq-report', {});
    const error = await job.waitUntilFinished(events, 10_000).then(() => undefined, (err: Error) => err.message);
    return { job: (await system.ctx.queues.getJob('reports', job.id!))!, error };
  }

  it('retries up to the queue’s attempts, logs each, and gives up once', async () => {
    const run = sinon.stub().rejects(new Error('disk full'));
    const giveUp = sinon.stub().resolves();
    const { job, error } = await runToFailure({ reports: { 'dlq-report': { run, giveUp }, 'invoice-report': { run } } });

    expect(error).to.equal('disk full');
    expect(run.callCount).to.equal(3);
    expect(giveUp.calledOnce).to.equal(true);
    expect(giveUp.firstCall.args[2]).to.be.instanceOf(Error).with.property('message', 'disk full');
    expect(giveUp.firstCall.args[1].job).to.include({ attempt: 3, maxAttempts: 3, queue: 'reports', name: 'dlq-report' });
    expect(await job.getState()).to.equal('failed');
    expect(lines.filter((l) => /^attempt \d of 3 failed: disk full$/.test(l.msg)).map((l) => [l.attempt, l.outcome])).to.deep.equal([
      [1, 'retrying'],
      [2, 'retrying'],
      [3, 'failed'],
    ]);
  });

  it('stops at once on an unrecoverable error', async () => {
    const run = sinon.stub().rejects(new UnrecoverableError('declined'));
    const giveUp = sinon.stub().resolves();
    const { job, error } = await runToFailure({ reports: { 'dlq-report': { run, giveUp }, 'invoice-report': { run } } });
    expect(error).to.equal('declined');
    expect(run.callCount).to.equal(1);
    expect(giveUp.calledOnce).to.equal(true);
    expect(job.attemptsMade).to.equal(1);
  });

  it('keeps the job in the DLQ when recording the outcome fails too', async () => {
    const run = sinon.stub().rejects(new UnrecoverableError('declined'));
    const giveUp = sinon.stub().rejects(new Error('database down'));
    const { job } = await runToFailure({ reports: { 'dlq-report': { run, giveUp }, 'invoice-report': { run } } });
    expect(await job.getState()).to.equal('failed');
    expect(lines.some((l) => l.msg.startsWith('could not record the final failure'))).to.equal(true);
  });

  it('logs one line with the milliseconds when a job completes', async () => {
    const run = sinon.stub().resolves({ rows: 0 });
    system.startWorkers(['reports'], { reports: { 'dlq-report': { run }, 'invoice-report': { run } } });
    const job = await system.ctx.queues.add('reports', 'invoice-report', {});
    expect(await job.waitUntilFinished(events, 10_000)).to.deep.equal({ rows: 0 });
    const done = lines.find((l) => l.msg === 'job completed') as Record<string, unknown> | undefined;
    expect(done).to.include({ queue: 'reports', job: 'invoice-report', jobId: job.id, attempt: 1, outcome: 'completed' });
    expect(done?.ms).to.be.a('number');
  });
});
