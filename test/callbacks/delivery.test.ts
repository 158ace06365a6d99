// Callback delivery against a real local receiver: signatures, retry rules, Retry-After, redirects, timeouts, attempts.
import type { QueueEvents } from 'bullmq';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { jobIds } from '../../queues/jobs.js';
import { enqueueCallback, findMessage, listCallbacks } from '../../shared/callbacks/messages.js';
import { rotateSecret, signingSecrets } from '../../shared/callbacks/secrets.js';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { Receiver, type Responder } from '../helpers/receiver.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('callback delivery', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let receiver: Receiver | undefined;
  let userId: string;
  let events: QueueEvents;

  async function setUp(env: Record<string, string> = {}) {
    receiver = undefined;
    system = opened(await createTestSystem(env));
    ({ userId } = await addUser(system.ctx.db, 'client'));
    events = await system.events('callback');
  }

  /** Sends one message to the receiver and waits until its job has finished, one way or the other. */
  async function deliver(respond: Responder, url?: string): Promise<{ messageId: string; failed?: string }> {
    receiver = opened(await Receiver.start(respond));
    const messageId = await enqueueCallback(system.ctx, {
      userId,
      url: url ?? receiver.url(),
      type: 'invoice.status',
      data: { id: 'inv-1', status: 'INTERNAL_INVOICE_TOBE_SENT' },
      resource: { type: 'invoice', id: 'inv-1' },
      eventKey: 'INTERNAL_INVOICE_TOBE_SENT',
    });
    system.startWorkers(['callback']);
    const job = await system.ctx.queues.get('callback').getJob(jobIds.callback(messageId));
    try {
      await job!.waitUntilFinished(events, 15_000);
      return { messageId };
    } catch (err) {
      return { messageId, failed: (err as Error).message };
    }
  }

  const attempts = async (messageId: string) => (await listCallbacks(system.ctx.db, { type: 'invoice', id: 'inv-1' })).find((m) => m.id === messageId)!.deliveries;

  it('delivers a message that standardwebhooks verifies with the client secret', async () => {
    await setUp();
    const { messageId, failed } = await deliver(() => ({ status: 204 }));
    expect(failed).to.equal(undefined);
    const [request] = receiver!.requests;
    const [secret] = await signingSecrets(system.ctx.db, userId);
    const verified = new Webhook(secret!.secret).verify(request!.body, request!.headers as Record<string, string>);
    expect(verified).to.deep.equal({ type: 'invoice.status', data: { id: 'inv-1', status: 'INTERNAL_INVOICE_TOBE_SENT' } });
    expect(request!.headers['webhook-id']).to.equal(messageId);
    expect(request!.headers['content-type']).to.equal('application/json');
    expect(() => new Webhook(`whsec_${Buffer.from('another secret, 24 bytes!').toString('base64')}`).verify(request!.body, request!.headers as Record<string, string>)).to.throw();
    expect((await findMessage(system.ctx.db, messageId))?.status).to.equal('delivered');
    expect(await attempts(messageId)).to.have.length(1).and.to.satisfy((a: { outcome: string; statusCode: number }[]) => a[0]!.outcome === 'delivered' && a[0]!.statusCode === 204);
  });

  it('retries 5xx, 408 and 429 with the same webhook-id, recording every attempt', async () => {
    await setUp({ CALLBACK_RETRY_SCHEDULE: '0.02,0.02,0.02,0.02' });
    const answers = [500, 503, 408, 429, 200];
    const { messageId, failed } = await deliver((_r, i) => ({ status: answers[i]! }));
    expect(failed).to.equal(undefined);
    expect(receiver!.requests.map((r) => r.headers['webhook-id'])).to.deep.equal(Array(5).fill(messageId));
    const [secret] = await signingSecrets(system.ctx.db, userId);
    for (const r of receiver!.requests) new Webhook(secret!.secret).verify(r.body, r.headers as Record<string, string>);
    const rows = await attempts(messageId);
    expect(rows.map((a) => [a.attempt, a.statusCode, a.outcome])).to.deep.equal([
      [1, 500, 'retry'],
      [2, 503, 'retry'],
      [3, 408, 'retry'],
      [4, 429, 'retry'],
      [5, 200, 'delivered'],
    ]);
  });

  it('stops at 410 and marks the message gone', async () => {
    await setUp();
    const { messageId, failed } = await deliver(() => ({ status: 410 }));
    expect(failed).to.contain('410');
    expect(receiver!.requests).to.have.length(1);
    expect((await findMessage(system.ctx.db, messageId))?.status).to.equal('gone');
    expect(await system.ctx.queues.get('callback').getJobCounts('failed')).to.deep.equal({ failed: 1 });
  });

  it('does not retry other 4xx answers', async () => {
    await setUp();
    const { messageId, failed } = await deliver(() => ({ status: 422 }));
    expect(failed).to.contain('422');
    expect(receiver!.requests).to.have.length(1);
    expect((await findMessage(system.ctx.db, messageId))?.status).to.equal('failed');
    expect((await attempts(messageId))[0]).to.include({ statusCode: 422, outcome: 'failed' });
  });

  it('waits as long as Retry-After asks', async () => {
    await setUp();
    const { failed } = await deliver((_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    expect(failed).to.equal(undefined);
    const [first, second] = receiver!.requests;
    expect(second!.at - first!.at).to.be.at.least(950);
  });

  it('follows no redirect, and gives up after the last attempt with the job left in the DLQ', async () => {
    await setUp({ CALLBACK_RETRY_SCHEDULE: '0.05' });
    const elsewhere = opened(await Receiver.start());
    const { messageId, failed } = await deliver(() => ({ status: 302, headers: { location: elsewhere.url('/stolen') } }));
    expect(failed).to.contain('302');
    expect(elsewhere.requests).to.have.length(0);
    expect(receiver!.requests).to.have.length(2);
    expect((await findMessage(system.ctx.db, messageId))?.status).to.equal('failed');
    const [dead] = await system.ctx.queues.get('callback').getFailed();
    expect(dead?.id).to.equal(jobIds.callback(messageId));
    expect(dead?.attemptsMade).to.equal(2);
  });

  it('abandons an attempt that takes longer than the timeout', async () => {
    await setUp({ CALLBACK_TIMEOUT_MS: '200', CALLBACK_RETRY_SCHEDULE: '0.05' });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { messageId, failed } = await deliver(async () => {
      await held;
      return { status: 200 };
    });
    release();
    expect(failed).to.contain('no answer within 200 ms');
    const rows = await attempts(messageId);
    expect(rows.map((a) => a.error)).to.deep.equal(['no answer within 200 ms', 'no answer within 200 ms']);
    expect(rows.every((a) => a.durationMs >= 190)).to.equal(true);
  });

  it('signs with both secrets during a rotation, so either verifies', async () => {
    await setUp();
    const [old] = await signingSecrets(system.ctx.db, userId);
    const [fresh] = await rotateSecret(system.ctx.db, userId);
    await deliver(() => ({ status: 200 }));
    const [request] = receiver!.requests;
    expect(request!.headers['webhook-signature']!.toString().split(' ')).to.have.length(2);
    for (const secret of [old!, fresh!]) new Webhook(secret.secret).verify(request!.body, request!.headers as Record<string, string>);
  });

  it('refuses at delivery an address the SSRF guard forbids, including a name that resolves to 127.0.0.1', async () => {
    await setUp({ CALLBACK_ALLOWED_HOSTS: 'hooks.example' });
    for (const host of ['127.0.0.1', 'localhost']) {
      const probe = opened(await Receiver.start());
      const messageId = await enqueueCallback(system.ctx, {
        userId,
        url: probe.url().replace('127.0.0.1', host),
        type: 'invoice.status',
        data: {},
        resource: { type: 'invoice', id: 'inv-1' },
        eventKey: host,
      });
      system.startWorkers(['callback']);
      const job = await system.ctx.queues.get('callback').getJob(jobIds.callback(messageId));
      const error = await job!.waitUntilFinished(events, 10_000).then(() => undefined, (err: Error) => err.message);
      expect(error, host).to.contain('callback URL refused');
      expect(probe.requests, host).to.have.length(0);
      expect((await findMessage(system.ctx.db, messageId))?.status).to.equal('failed');
      expect((await attempts(messageId))[0]?.error).to.match(/127\.0\.0\.1|::1/);
    }
  });
});
