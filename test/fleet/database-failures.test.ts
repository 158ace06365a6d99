// A job failing on a database error: its failedReason, stack trace, log lines, give-up hook and DLQ report row name the error's class and code, never the customer data in it.
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job, QueueEvents } from 'bullmq';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import sinon from 'sinon';
import { insertUser } from '../../shared/access/users.js';
import { RedactedDatabaseError } from '../../shared/platform/errors/safe-error.js';
import { isUniqueViolation } from '../../shared/platform/errors/unique-violation.js';
import type { JobContext, JobHandler } from '../../workers/types.js';
import { usingPostgres } from '../helpers/db.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { captureLogs, type LogLine } from '../helpers/logs.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

const CUSTOMER = { username: 'mario.rossi', email: 'mario.rossi@secret.example', role: 'client' as const };
const UNIQUE_REASON = usingPostgres()
  ? 'DatabaseError 23505: unique constraint violated (table users, constraint users_username_unique)'
  : 'SqliteError SQLITE_CONSTRAINT_UNIQUE: unique constraint violated (users.username)';

describe('a job failing on a database error', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let events: QueueEvents;
  let lines: LogLine[];
  let reportsDir: string;

  beforeEach(async () => {
    reportsDir = mkdtempSync(join(tmpdir(), 'antaeus-dlq-'));
    opened({ close: () => rm(reportsDir, { recursive: true, force: true }) });
    system = opened(await createTestSystem({ JOB_ATTEMPTS: 'charge=2', REPORTS_DIR: reportsDir }));
    ({ log: system.ctx.log, lines } = captureLogs());
    events = await system.events('charge');
    await insertUser(system.ctx.db, CUSTOMER);
  });
  afterEach(() => sinon.restore());

  async function runToFailure(name: 'charge' | 'one-off', run: JobHandler<unknown>['run'], giveUp = sinon.stub().resolves()) {
    system.startWorkers(['charge'], { charge: { charge: { run, giveUp }, 'one-off': { run, giveUp } } });
    const job = await system.ctx.queues.add('charge', name, name === 'charge' ? { invoiceId: 'inv-1' } : { paymentId: 'pay-1' });
    await job.waitUntilFinished(events, 10_000).then(
      () => expect.fail('the job completed'),
      () => undefined,
    );
    return (await system.ctx.queues.getJob('charge', job.id!)) as Job;
  }

  /** Everything BullMQ and the log kept about the job. */
  const kept = (job: Job) => JSON.stringify({ failedReason: job.failedReason, stacktrace: job.stacktrace, lines });

  it('is retried as any error is, and recorded by class, code and constraint, without the duplicated value', async () => {
    const run = sinon.spy(async (_payload: unknown, ctx: JobContext) => {
      await insertUser(ctx.db, CUSTOMER);
    });
    const giveUp = sinon.stub().resolves();
    const job = await runToFailure('charge', run, giveUp);

    expect(run.callCount).to.equal(2);
    expect(job.failedReason).to.equal(UNIQUE_REASON);
    expect(job.stacktrace?.at(-1)).to.match(new RegExp(`^RedactedDatabaseError: ${UNIQUE_REASON.replace(/[()]/g, '\\$&')}\\n\\s+at `));
    const hooked = giveUp.firstCall.args[2] as RedactedDatabaseError;
    expect(hooked).to.be.instanceOf(RedactedDatabaseError).with.property('message', UNIQUE_REASON);
    expect(isUniqueViolation(hooked)).to.equal(true);
    expect(lines.filter((l) => l.msg === `attempt 2 of 2 failed: ${UNIQUE_REASON}`)).to.have.length(1);
    expect(kept(job)).to.not.contain('mario');
  });

  it('keeps out of failedReason a value PostgreSQL quotes in its own message', async function () {
    if (!usingPostgres()) this.skip(); // SQLite compares a timestamp with any text without complaint
    // PostgreSQL says `invalid input syntax for type timestamp with time zone: "mario.rossi@…"`.
    const job = await runToFailure('one-off', async (_payload, ctx) => {
      await ctx.db('users').where('created_at', CUSTOMER.email);
    });
    expect(job.failedReason).to.equal('DatabaseError 22007: invalid date or time format');
    expect(kept(job)).to.not.contain('mario');
  });

  it('shows in the DLQ report as stored: class, code and safe message', async () => {
    await runToFailure('charge', async (_payload, ctx) => {
      await insertUser(ctx.db, CUSTOMER);
    });
    system.startWorkers(['reports']);
    const reports = await system.events('reports');
    const report = await system.ctx.queues.add('reports', 'dlq-report', {});
    const { file } = (await report.waitUntilFinished(reports, 10_000)) as { file: string };
    const csv = await readFile(file, 'utf8');
    const rows = parse(csv, { columns: true }) as Record<string, string>[];
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ queue: 'charge', name: 'charge', attempts: '2', 'failure reason': UNIQUE_REASON });
    expect(csv).to.not.contain('mario');
  });
});
