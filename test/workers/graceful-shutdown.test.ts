// A worker process told to stop (SIGTERM) finishes its job in flight, closes its connections and exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import { jobIds } from '../../queues/jobs.js';
import { enqueueCallback, findMessage } from '../../shared/callbacks.js';
import { addUser } from '../helpers/fixtures.js';
import { Receiver } from '../helpers/receiver.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

function startWorkerProcess(system: TestSystem): { child: ChildProcess; logged: (msg: RegExp) => Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      REDIS_URL: system.config.redisUrl,
      DATABASE_URL: system.testDb.url,
      QUEUE_PREFIX: system.config.queuePrefix,
      WORKER_QUEUES: 'callback',
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '15000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: { msg: RegExp; resolve: () => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) if (w.msg.test(line)) w.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logged = (msg: RegExp) =>
    new Promise<void>((resolve) => {
      if (lines.some((l) => msg.test(l))) resolve();
      else waiters.push({ msg, resolve });
    });
  return { child, logged, exited };
}

describe('graceful shutdown', () => {
  let system: TestSystem;
  let receiver: Receiver;
  let worker: ReturnType<typeof startWorkerProcess> | undefined;

  afterEach(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await receiver.close();
    await system.close();
  });

  it('lets the job in flight finish after SIGTERM, then exits 0', async function () {
    this.timeout(30_000);
    system = await createTestSystem();
    const { userId } = await addUser(system.ctx.db, 'client');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver = await Receiver.start(async () => {
      await held;
      return { status: 200 };
    });
    const messageId = await enqueueCallback(system.ctx, {
      userId,
      url: receiver.url(),
      type: 'invoice.status',
      data: { id: 'inv-9' },
      subjectType: 'invoice',
      subjectId: 'inv-9',
      eventKey: 'x',
    });

    worker = startWorkerProcess(system);
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
