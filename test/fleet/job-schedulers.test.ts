// Job schedulers: one place upserts the recurring reports; upserting again updates them rather than adding more.
import { expect } from 'chai';
import { upsertJobSchedulers } from '../../queues/schedules.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('job schedulers', () => {
  const opened = closedAfterEach();
  let system: TestSystem;

  it('runs dlq-report and invoice-report every REPORTS_EVERY_MINUTES, once however often it is upserted', async () => {
    system = opened(await createTestSystem({ REPORTS_EVERY_MINUTES: '15' }));
    await upsertJobSchedulers(system.ctx.queues, system.config);
    await upsertJobSchedulers(system.ctx.queues, system.config);
    const schedulers = await system.ctx.queues.get('reports').getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.name, s.every]).sort()).to.deep.equal([
      ['dlq-report', 'dlq-report', 900_000],
      ['invoice-report', 'invoice-report', 900_000],
    ]);

    await upsertJobSchedulers(system.ctx.queues, { ...system.config, reportsEveryMinutes: 30 });
    const updated = await system.ctx.queues.get('reports').getJobSchedulers();
    expect(updated.map((s) => s.every)).to.deep.equal([1_800_000, 1_800_000]);
  });
});

describe('billing scheduler', () => {
  const opened = closedAfterEach();
  let system: TestSystem;

  const inZone = (millis: number, timeZone: string) =>
    new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(millis);

  it('runs billing-run next on the 1st at midnight in BILLING_TZ, whatever the zone', async () => {
    system = opened(await createTestSystem({ BILLING_TZ: 'Europe/Rome' }));
    await upsertJobSchedulers(system.ctx.queues, system.config);
    const scheduler = await system.ctx.queues.get('billing').getJobScheduler('billing-run');
    expect(scheduler).to.include({ name: 'billing-run', pattern: '0 0 1 * *', tz: 'Europe/Rome' });
    const next = Number(scheduler!.next);
    expect(next).to.be.greaterThan(Date.now());
    expect(inZone(next, 'Europe/Rome')).to.equal('1, 00:00');
    // Midnight in Rome is 23:00 (winter) or 22:00 (summer) of the day before in UTC: not the UTC schedule.
    expect(new Date(next).getUTCHours()).to.be.oneOf([22, 23]);

    const delayed = await system.ctx.queues.get('billing').getDelayed();
    expect(delayed.map((j) => [j.name, j.timestamp + j.delay])).to.deep.equal([['billing-run', next]]);
  });
});
