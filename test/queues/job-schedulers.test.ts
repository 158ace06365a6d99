// Job schedulers: one place upserts the recurring reports; upserting again updates them rather than adding more.
import { expect } from 'chai';
import { upsertJobSchedulers } from '../../queues/schedules.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('job schedulers', () => {
  let system: TestSystem;
  afterEach(async () => {
    await system.close();
  });

  it('runs dlq-report and invoice-report every REPORTS_EVERY_MINUTES, once however often it is upserted', async () => {
    system = await createTestSystem({ REPORTS_EVERY_MINUTES: '15' });
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
