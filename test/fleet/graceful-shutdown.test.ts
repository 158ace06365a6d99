// A worker process told to stop (SIGTERM) finishes its job in flight, closes its connections and exits 0.
import { expect } from 'chai';
import { jobIds } from '../../queues/jobs.js';
import { enqueueCallback, findMessage } from '../../shared/callbacks/messages.js';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { Receiver } from '../helpers/receiver.js';
import { createTestSystem } from '../helpers/system.js';
import { startWorkerProcess } from '../helpers/worker-process.js';

describe('graceful shutdown', () => {
  const opened = closedAfterEach();

  it('lets the job in flight finish after SIGTERM, then exits 0', async function () {
    this.timeout(30_000);
    const system = opened(await createTestSystem());
    const { userId } = await addUser(system.ctx.db, 'client');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const receiver = opened(await Receiver.start(async () => {
      await held;
      return { status: 200 };
    }));
    const messageId = await enqueueCallback(system.ctx, {
      userId,
      url: receiver.url(),
      type: 'invoice.status',
      data: { id: 'inv-9' },
      resource: { type: 'invoice', id: 'inv-9' },
      eventKey: 'x',
    });

    const worker = opened(startWorkerProcess(system, { WORKER_QUEUES: 'callback', SHUTDOWN_GRACE_MS: '15000' }));
    await receiver.waitForRequests(1, 15_000);
    worker.child.kill('SIGTERM');
    await worker.logged(/SIGTERM: shutting down/);
    expect(worker.child.exitCode).to.equal(null);
    release();

    expect(await worker.exited).to.equal(0);
    const job = await system.ctx.queues.get('callback').getJob(jobIds.callback(messageId));
    expect(await job!.getState()).to.equal('completed');
    expect((await findMessage(system.ctx.db, messageId))?.status).to.equal('delivered');
    expect(receiver.requests).to.have.length(1);
  });
});
