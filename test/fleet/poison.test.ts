// A payload that cannot be valid (a poison message) fails on its first attempt, unrecoverable, saying why; the give-up hook is not fed it.
import type { QueueEvents } from 'bullmq';
import { expect } from 'chai';
import sinon from 'sinon';
import type { Queues } from '../../queues/producer.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('poison messages', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let events: QueueEvents;

  beforeEach(async () => {
    system = opened(await createTestSystem());
    events = await system.events('charge');
  });

  // Added around the typed producer, as a bug or a hand-made job in Redis would.
  const addRaw = (data: unknown) => system.ctx.queues.get('charge').add('charge', data);

  for (const [what, data, reason] of [
    ['a missing id', {}, /invoiceId: /],
    ['an id of the wrong type', { invoiceId: 42 }, /invoiceId: .*string/],
    ['no payload at all', null, /payload: /],
  ] as const) {
    it(`sends a job with ${what} to the DLQ on its first attempt, with the reason`, async () => {
      const run = sinon.stub().resolves({});
      const giveUp = sinon.stub().resolves();
      system.startWorkers(['charge'], { charge: { charge: { run, giveUp }, 'one-off': { run } } });
      const job = await addRaw(data);
      const error = await job.waitUntilFinished(events, 10_000).then(() => undefined, (err: Error) => err.message);
      expect(error).to.match(/^malformed payload, no retry can mend it: /).and.match(reason);
      const stored = (await system.ctx.queues.getJob('charge', job.id!))!;
      expect(await stored.getState()).to.equal('failed');
      expect(stored.attemptsMade).to.equal(1);
      expect(run.called).to.equal(false);
      expect(giveUp.called).to.equal(false);
    });
  }

  it('lets a valid payload through to its handler', async () => {
    const run = sinon.stub().resolves({ ok: true });
    system.startWorkers(['charge'], { charge: { charge: { run }, 'one-off': { run } } });
    const job = await (system.ctx.queues as Queues).add('charge', 'charge', { invoiceId: 'inv-1' });
    expect(await job.waitUntilFinished(events, 10_000)).to.deep.equal({ ok: true });
  });
});
