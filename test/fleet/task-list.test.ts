// Every queue is served or refused: each job of the job map has a handler, and a fleet asked for a queue without handlers does not start.
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { QUEUE_NAMES, type JobName, type QueueName } from '../../queues/jobs.js';
import { startFleet, UnservedQueueError } from '../../workers/fleet.js';
import { handlers } from '../../workers/index.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem } from '../helpers/system.js';

// The compiler's half: the task list names exactly the job map's jobs, queue by queue (a gap or a stray name does not compile).
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const taskListMatchesJobMap: { [Q in QueueName]: Exactly<keyof (typeof handlers)[Q], JobName<Q>> } = {
  'invoice-save': true,
  'sdi-send': true,
  charge: true,
  billing: true,
  callback: true,
  collect: true,
  orders: true,
  mail: true,
  reports: true,
  maintenance: true,
};

describe('the task list', () => {
  const opened = closedAfterEach();

  it('has a handler for every job of every queue in the job map', () => {
    expect(Object.values(taskListMatchesJobMap).every(Boolean)).to.equal(true);
    expect(Object.keys(handlers)).to.have.members([...QUEUE_NAMES]);
    for (const queue of QUEUE_NAMES) {
      const jobs = Object.entries(handlers[queue]);
      expect(jobs, queue).to.not.be.empty;
      for (const [name, handler] of jobs) expect(handler.run, `${queue}/${name}`).to.be.a('function');
    }
  });

  it('refuses to start a fleet for a queue it has no handlers for, in one line naming it', async () => {
    const system = opened(await createTestSystem());
    const { charge } = handlers;
    expect(() => startFleet(system.ctx, { queues: ['charge', 'callback'], handlers: { charge } }))
      .to.throw(UnservedQueueError)
      .that.satisfies((err: Error) => err.message.includes('callback') && !err.message.includes('\n'));
  });

  it('keeps a worker process from starting when WORKER_QUEUES names a queue that has no handlers', async function () {
    this.timeout(20_000);
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      env: { ...process.env, NODE_ENV: 'test', WORKER_QUEUES: 'callback,orders', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).to.equal(1);
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr).to.contain('WORKER_QUEUES').and.contain('orders');
  });
});
