// The development callback inbox as a spec: callbacks kept and their signatures checked, GET /callbacks, bodies that are not JSON or too large, the cap, closing, running on its own, and Antaeus's own delivery into it.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import type { QueueEvents } from 'bullmq';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { jobIds } from '../../queues/jobs.js';
import { CallbackInbox, type CallbackInboxOptions, type ReceivedCallback } from '../../scripts/sandboxes/callback-inbox.js';
import { enqueueCallback, findMessage } from '../../shared/callbacks/messages.js';
import { rotateSecret, signingSecrets } from '../../shared/callbacks/secrets.js';
import { signWebhook } from '../../shared/callbacks/signature.js';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { runStandalone } from '../helpers/standalone.js';
import { createTestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; throws when it is not. */
  json(): any;
}

/** A fresh secret, as Antaeus makes them (shared/callbacks/secrets.ts). */
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

let messages = 0;

/** Standard Webhooks headers for `body`, signed now with `secret` as the library signs. */
function signed(secret: string, body: string, id = `msg_${++messages}`): Record<string, string> {
  const at = new Date();
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

/** What a SandboxLog was told, for the entries a test looks for. */
function recordingLog() {
  const entries: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void entries.push({ level, obj, msg });
  return { entries, log: { info: at('info'), warn: at('warn'), debug: at('debug') } };
}

/** A promise and its resolve, to hold up secrets() until a test lets it go. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (err: unknown) => err,
  );
}

describe('callback inbox', () => {
  const opened = closedAfterEach();

  async function inbox(options: CallbackInboxOptions = {}): Promise<CallbackInbox> {
    return opened(await CallbackInbox.start(options));
  }

  async function call(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }

  /** POSTs `event` as JSON to the inbox's /hooks, signed with `secret` (unsigned without one). */
  function post(server: CallbackInbox, event: unknown, secret?: string, path = '/hooks'): Promise<Reply> {
    const body = typeof event === 'string' ? event : JSON.stringify(event);
    return call(server.hookUrl(path), 'POST', body, secret ? signed(secret, body) : { 'content-type': 'application/json' });
  }

  const list = async (server: CallbackInbox, query = ''): Promise<Reply> => call(`${server.url}/callbacks${query}`, 'GET');

  describe('receiving', () => {
    it('keeps a callback signed with one of the secrets as verified, its type and body parsed, and answers 204', async () => {
      const secret = newSecret();
      const server = await inbox({ secrets: async () => [secret] });
      const body = JSON.stringify({ type: 'collection.succeeded', data: { id: 'col_1', provider: 'gas', amount: '84.20' } });
      const headers = signed(secret, body, 'msg_kept');
      const before = new Date().toISOString();
      const reply = await call(server.hookUrl('/hooks/demo'), 'POST', body, headers);
      expect([reply.status, reply.text]).to.deep.equal([204, '']);
      const [callback, ...more] = server.received;
      expect(more).to.deep.equal([]);
      expect(callback).to.deep.equal({
        webhookId: 'msg_kept',
        receivedAt: callback!.receivedAt,
        path: '/hooks/demo',
        type: 'collection.succeeded',
        headers: { 'webhook-id': 'msg_kept', 'webhook-timestamp': headers['webhook-timestamp'], 'webhook-signature': headers['webhook-signature'] },
        body: { type: 'collection.succeeded', data: { id: 'col_1', provider: 'gas', amount: '84.20' } },
        verified: true,
      } satisfies ReceivedCallback);
      expect(callback!.receivedAt >= before && callback!.receivedAt <= new Date().toISOString(), callback!.receivedAt).to.equal(true);
      expect(new Date(callback!.receivedAt).toISOString()).to.equal(callback!.receivedAt);
      // What the API shows is what the inbox kept.
      expect((await list(server)).json()).to.deep.equal({ data: [callback] });
    });

    it('keeps, as not verified and still answered 204, a callback no secret verifies or without its signature headers', async () => {
      const server = await inbox({ secrets: async () => [newSecret()] });
      expect((await post(server, { type: 'order.fulfilled', data: {} }, newSecret())).status).to.equal(204);
      expect((await post(server, { type: 'order.fulfilled', data: {} })).status).to.equal(204);
      // A timestamp out of the library's 5-minute tolerance does not verify either, even with the right secret.
      const secret = newSecret();
      const late = await inbox({ secrets: async () => [secret] });
      const body = JSON.stringify({ type: 'order.fulfilled', data: {} });
      const headers = signed(secret, body, 'msg_late');
      const tenMinutesAgo = new Date(Date.now() - 600_000);
      headers['webhook-timestamp'] = String(Math.floor(tenMinutesAgo.getTime() / 1000));
      headers['webhook-signature'] = new Webhook(secret).sign('msg_late', tenMinutesAgo, body);
      expect((await call(late.hookUrl(), 'POST', body, headers)).status).to.equal(204);
      expect([...server.received, ...late.received].map((c) => [c.type, c.verified])).to.deep.equal([
        ['order.fulfilled', false],
        ['order.fulfilled', false],
        ['order.fulfilled', false],
      ]);
      expect(server.received[1]!.headers).to.deep.equal({ 'webhook-id': null, 'webhook-timestamp': null, 'webhook-signature': null });
      expect(server.received[1]!.webhookId).to.equal(null);
    });

    it('verifies with any of the secrets, reading them again for each callback, as during a rotation', async () => {
      const [previous, current, next] = [newSecret(), newSecret(), newSecret()];
      let secrets = [current, previous];
      let reads = 0;
      const server = await inbox({
        secrets: async () => {
          reads++;
          return secrets;
        },
      });
      await post(server, { type: 'a', data: {} }, previous);
      await post(server, { type: 'b', data: {} }, current);
      // Rotated again: the oldest no longer verifies, the newest does.
      secrets = [next, current];
      await post(server, { type: 'c', data: {} }, previous);
      await post(server, { type: 'd', data: {} }, next);
      expect(server.received.map((c) => [c.type, c.verified])).to.deep.equal([
        ['a', true],
        ['b', true],
        ['c', false],
        ['d', true],
      ]);
      expect(reads).to.equal(4);
    });

    it('keeps callbacks unverified (verified: null) without a secrets option', async () => {
      const server = await inbox();
      await post(server, { type: 'invoice.status', data: { id: 'inv_1' } }, newSecret());
      await post(server, { type: 'invoice.status', data: { id: 'inv_2' } });
      expect(server.received.map((c) => c.verified)).to.deep.equal([null, null]);
    });

    it('keeps a callback as not verified, and warns, when the secrets cannot be read', async () => {
      const { entries, log } = recordingLog();
      const server = await inbox({
        secrets: async () => {
          throw new Error('database is down');
        },
        log,
      });
      expect((await post(server, { type: 'order.fulfilled', data: {} }, newSecret())).status).to.equal(204);
      expect(server.received.map((c) => c.verified)).to.deep.equal([false]);
      const warnings = entries.filter((e) => e.level === 'warn');
      expect(warnings).to.have.length(1);
      expect(warnings[0]!.msg).to.match(/could not read the secrets/);
      expect((warnings[0]!.obj as { err: Error }).err.message).to.equal('database is down');
    });

    it('keeps callbacks in arrival order, however long each one took to verify', async () => {
      const secret = newSecret();
      const slow = deferred<string[]>();
      const reads: number[] = [];
      const server = await inbox({
        secrets: () => {
          reads.push(reads.length);
          return reads.length === 1 ? slow.promise : Promise.resolve([secret]);
        },
      });
      const first = post(server, { type: 'first', data: {} }, secret);
      await waitFor(() => reads.length === 1, { what: 'the first callback to read the secrets' });
      const second = post(server, { type: 'second', data: {} }, secret);
      await waitFor(() => reads.length === 2, { what: 'the second callback to read the secrets' });
      // The second is verified, but waits for the first before it is kept and answered.
      expect(server.received).to.deep.equal([]);
      slow.resolve([secret]);
      expect([(await first).status, (await second).status]).to.deep.equal([204, 204]);
      expect(server.received.map((c) => [c.type, c.verified])).to.deep.equal([
        ['first', true],
        ['second', true],
      ]);
    });

    it('keeps a body that is not JSON as its text, a signed one verified too, with no type', async () => {
      const secret = newSecret();
      const server = await inbox({ secrets: async () => [secret] });
      await post(server, 'plain text, not JSON', secret);
      await post(server, '{"type": "cut off"', secret);
      await post(server, '');
      await post(server, { data: { no: 'type' } });
      await post(server, { type: 42 });
      await post(server, [{ type: 'in an array' }]);
      expect(server.received.map((c) => [c.body, c.type, c.verified])).to.deep.equal([
        ['plain text, not JSON', null, true],
        ['{"type": "cut off"', null, true],
        ['', null, false],
        [{ data: { no: 'type' } }, null, false],
        [{ type: 42 }, null, false],
        [[{ type: 'in an array' }], null, false],
      ]);
    });

    it('answers 413 payload_too_large to a body over maxBodyBytes and keeps nothing of it, announced or streamed', async () => {
      const server = await inbox({ maxBodyBytes: 1024 });
      const fits = JSON.stringify({ type: 'fits', data: 'x'.repeat(1024 - 30) });
      expect(Buffer.byteLength(fits)).to.be.within(1000, 1024);
      expect((await post(server, fits)).status).to.equal(204);
      const over = await post(server, { type: 'too.large', data: 'x'.repeat(2000) });
      expect([over.status, over.json().error.code]).to.deep.equal([413, 'payload_too_large']);
      // Chunked, without a content-length: counted as it arrives.
      const chunks = [JSON.stringify({ type: 'too.large.streamed', data: 'x'.repeat(600) }).slice(0, 700), 'y'.repeat(700)];
      const res = await fetch(server.hookUrl(), {
        method: 'POST',
        body: new ReadableStream({
          pull(controller) {
            const chunk = chunks.shift();
            if (chunk === undefined) controller.close();
            else controller.enqueue(new TextEncoder().encode(chunk));
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect([res.status, ((await res.json()) as any).error.code]).to.deep.equal([413, 'payload_too_large']);
      expect(server.received.map((c) => c.type)).to.deep.equal(['fits']);
      // Still answering after them.
      expect((await post(server, { type: 'after', data: {} })).status).to.equal(204);
      expect(server.received.map((c) => c.type)).to.deep.equal(['fits', 'after']);
    });

    it('keeps only the last 1,000 callbacks by default, dropping the oldest', async function () {
      this.timeout(60_000);
      const server = await inbox();
      // Five at a time, each batch after the one before: quick, and the first batch is the five oldest, whatever the order within it.
      for (let batch = 0; batch < 1005 / 5; batch++) {
        await Promise.all(Array.from({ length: 5 }, (_, i) => post(server, { type: 'n', data: { n: batch * 5 + i } }).then((r) => expect(r.status).to.equal(204))));
      }
      const kept = server.received;
      expect(kept).to.have.length(1000);
      const numbers = kept.map((c) => (c.body as { data: { n: number } }).data.n);
      expect(Math.min(...numbers)).to.equal(5);
      expect(Math.max(...numbers)).to.equal(1004);
      expect((await list(server, '?limit=500')).json().data).to.have.length(500);
    });

    it('keeps only the last `keep` callbacks, when told', async () => {
      const server = await inbox({ keep: 3 });
      for (let n = 1; n <= 5; n++) await post(server, { type: `n${n}`, data: {} });
      expect(server.received.map((c) => c.type)).to.deep.equal(['n3', 'n4', 'n5']);
      expect((await list(server)).json().data.map((c: ReceivedCallback) => c.type)).to.deep.equal(['n5', 'n4', 'n3']);
    });

    it('gives a copy as `received`, which does not change as more arrive', async () => {
      const server = await inbox({ keep: 1 });
      await post(server, { type: 'one', data: {} });
      const held = server.received;
      await post(server, { type: 'two', data: {} });
      expect(held.map((c) => c.type)).to.deep.equal(['one']);
      expect(server.received.map((c) => c.type)).to.deep.equal(['two']);
    });
  });

  describe('GET /callbacks', () => {
    async function filled(): Promise<CallbackInbox> {
      const server = await inbox();
      const types = ['collection.succeeded', 'invoice.status', 'collection.succeeded', 'order.fulfilled', 'collection.succeeded'];
      for (const [n, type] of types.entries()) await post(server, { type, data: { n } });
      return server;
    }

    const ns = (reply: Reply) => reply.json().data.map((c: ReceivedCallback) => (c.body as { data: { n: number } }).data.n);

    it('lists the callbacks newest first, every one up to 50 by default', async () => {
      const server = await filled();
      const reply = await list(server);
      expect(reply.status).to.equal(200);
      expect(reply.headers.get('content-type')).to.equal('application/json');
      expect(reply.json()).to.deep.equal({ data: [...server.received].reverse() });
      expect(ns(reply)).to.deep.equal([4, 3, 2, 1, 0]);
      for (let n = 0; n < 50; n++) await post(server, { type: 'more', data: { n: 5 + n } });
      const page = await list(server);
      expect(page.json().data).to.have.length(50);
      expect(ns(page)[0]).to.equal(54);
    });

    it('narrows to ?type= and ?limit=, together too', async () => {
      const server = await filled();
      expect(ns(await list(server, '?type=collection.succeeded'))).to.deep.equal([4, 2, 0]);
      expect(ns(await list(server, '?limit=2'))).to.deep.equal([4, 3]);
      expect(ns(await list(server, '?type=collection.succeeded&limit=2'))).to.deep.equal([4, 2]);
      expect(ns(await list(server, '?type=invoice.status&limit=500'))).to.deep.equal([1]);
      expect(ns(await list(server, '?type=nothing.like.it'))).to.deep.equal([]);
    });

    it('refuses a limit that is not a whole number from 1 to 500 with 400 invalid_request', async () => {
      const server = await filled();
      for (const limit of ['0', '501', '-1', '1.5', 'ten', '', '1e2', ' 5', '0x10']) {
        const reply = await list(server, `?limit=${encodeURIComponent(limit)}`);
        expect([reply.status, reply.json().error.code], `limit=${limit}`).to.deep.equal([400, 'invalid_request']);
      }
      expect(ns(await list(server, '?limit=1'))).to.deep.equal([4]);
      expect(ns(await list(server, '?limit=500'))).to.have.length(5);
    });
  });

  it('answers 404 to other paths and 405 with Allow to other methods, and keeps none of them', async () => {
    const server = await inbox();
    for (const [method, path] of [
      ['POST', '/'],
      ['POST', '/hooksx'],
      ['POST', '/hook'],
      ['GET', '/callbacks/1'],
      ['POST', '/v1/hooks'],
    ] as const) {
      const reply = await call(`${server.url}${path}`, method, method === 'POST' ? '{}' : undefined);
      expect([reply.status, reply.json().error.code], `${method} ${path}`).to.deep.equal([404, 'not_found']);
    }
    for (const [method, path, allow] of [
      ['GET', '/hooks', 'POST'],
      ['PUT', '/hooks/demo', 'POST'],
      ['DELETE', '/hooks', 'POST'],
      ['POST', '/callbacks', 'GET'],
      ['DELETE', '/callbacks', 'GET'],
    ] as const) {
      const reply = await call(`${server.url}${path}`, method);
      expect([reply.status, reply.headers.get('allow'), reply.json().error.code], `${method} ${path}`).to.deep.equal([405, allow, 'method_not_allowed']);
    }
    expect(server.received).to.deep.equal([]);
  });

  it('gives callback URLs under /hooks only, and refuses options out of range', async () => {
    const server = await inbox();
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.hookUrl()).to.equal(`${server.url}/hooks`);
    expect(server.hookUrl('/hooks/demo')).to.equal(`${server.url}/hooks/demo`);
    for (const path of ['/callbacks', 'hooks', '/hooksx', '']) expect(() => server.hookUrl(path), path).to.throw(RangeError);
    expect(await rejection(CallbackInbox.start({ maxBodyBytes: 0 }))).to.be.instanceOf(RangeError);
    expect(await rejection(CallbackInbox.start({ keep: 1.5 }))).to.be.instanceOf(RangeError);
  });

  describe('closing', () => {
    it('does not hang on an open keep-alive connection, and closing twice is harmless', async () => {
      const server = await CallbackInbox.start();
      opened(server);
      // A plain node:http request on a keep-alive agent: the connection stays open, idle, once it is answered.
      const agent = new Agent({ keepAlive: true });
      opened({ close: () => agent.destroy() });
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(server.hookUrl(), { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode!));
        });
        req.once('error', reject);
        req.end(JSON.stringify({ type: 'kept.alive', data: {} }));
      });
      expect(status).to.equal(204);
      const [socket] = Object.values(agent.freeSockets).flat();
      expect(socket, 'an idle keep-alive connection').to.not.equal(undefined);
      const closed = once(socket!, 'close');
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).to.be.below(1000);
      await closed;
      await server.close();
    });

    it('does not hang on a callback whose secrets never come, and its client sees the connection drop', async () => {
      let reads = 0;
      const server = await inbox({
        secrets: () => {
          reads++;
          return new Promise(() => {});
        },
      });
      const pending = rejection(post(server, { type: 'held', data: {} }, newSecret()));
      await waitFor(() => reads === 1, { what: 'the callback to read the secrets' });
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).to.be.below(1000);
      expect(await pending).to.be.instanceOf(TypeError);
      expect(server.received).to.deep.equal([]);
    });
  });

  it('runs on its own: one line with where to point callbackUrl and where to read them, unverified, and exit 0 on SIGTERM', async () => {
    const { line, stop } = await runStandalone('scripts/sandboxes/callback-inbox.ts', opened);
    const url = /listening on (http:\/\/[^\s,:]+:\d+)/.exec(line)?.[1];
    expect(url, line).to.be.a('string');
    expect(line).to.include(`point callbackUrl at ${url}/hooks`).and.include(`${url}/callbacks`);
    const body = JSON.stringify({ type: 'collection.succeeded', data: { id: 'col_1' } });
    expect((await fetch(`${url}/hooks/standalone`, { method: 'POST', body, headers: signed(newSecret(), body) })).status).to.equal(204);
    const { data } = (await (await fetch(`${url}/callbacks`)).json()) as { data: ReceivedCallback[] };
    expect(data.map((c) => [c.path, c.type, c.verified])).to.deep.equal([['/hooks/standalone', 'collection.succeeded', null]]);
    expect(await stop()).to.deep.equal([0, null]);
  });

  // Antaeus's own signing, not the library's in the test's hands: its callback worker delivers to the inbox, which is
  // given the client's secrets the way `npm start` gives them (signingSecrets), through a rotation.
  describe("with Antaeus's own delivery", () => {
    it('verifies what the callback worker delivers with the client secrets, before and after a rotation, and 204 settles it', async () => {
      const system = opened(await createTestSystem());
      const { userId } = await addUser(system.ctx.db, 'client');
      const { userId: otherId } = await addUser(system.ctx.db, 'client');
      const secretsOf = (id: string) => async () => (await signingSecrets(system.ctx.db, id)).map((s) => s.secret);
      const server = await inbox({ secrets: secretsOf(userId) });
      const stranger = await inbox({ secrets: secretsOf(otherId) });
      const events: QueueEvents = await system.events('callback');
      system.startWorkers(['callback']);

      async function deliver(to: CallbackInbox, id: string): Promise<string> {
        const messageId = await enqueueCallback(system.ctx, {
          userId,
          url: to.hookUrl('/hooks/client'),
          type: 'invoice.status',
          data: { id, status: 'INTERNAL_INVOICE_TOBE_SENT' },
          resource: { type: 'invoice', id },
          eventKey: 'INTERNAL_INVOICE_TOBE_SENT',
        });
        const job = await system.ctx.queues.get('callback').getJob(jobIds.callback(messageId));
        await job!.waitUntilFinished(events, 15_000);
        return messageId;
      }

      const first = await deliver(server, 'inv-1');
      await rotateSecret(system.ctx.db, userId);
      const second = await deliver(server, 'inv-2');
      // Signed with this client's secrets, checked against another client's: not verified, but answered 204 all the same.
      const third = await deliver(stranger, 'inv-3');

      expect(server.received.map((c) => [c.webhookId, c.path, c.type, c.body, c.verified])).to.deep.equal([
        [first, '/hooks/client', 'invoice.status', { type: 'invoice.status', data: { id: 'inv-1', status: 'INTERNAL_INVOICE_TOBE_SENT' } }, true],
        [second, '/hooks/client', 'invoice.status', { type: 'invoice.status', data: { id: 'inv-2', status: 'INTERNAL_INVOICE_TOBE_SENT' } }, true],
      ]);
      // During the rotation both secrets sign.
      expect(server.received[1]!.headers['webhook-signature']!.split(' ')).to.have.length(2);
      expect(stranger.received.map((c) => [c.webhookId, c.verified])).to.deep.equal([[third, false]]);
      for (const id of [first, second, third]) expect((await findMessage(system.ctx.db, id))?.status, id).to.equal('delivered');
    });

    it('verifies with the previous secret alone what shared/callbacks/signature.ts signed with both', async () => {
      const [previous, current] = [newSecret(), newSecret()];
      const server = await inbox({ secrets: async () => [previous] });
      const body = JSON.stringify({ type: 'order.fulfilled', data: { id: 'ord_1' } });
      const reply = await call(server.hookUrl(), 'POST', body, { 'content-type': 'application/json', ...signWebhook('msg_rotated', body, [current, previous]) });
      expect(reply.status).to.equal(204);
      expect(server.received.map((c) => [c.webhookId, c.verified])).to.deep.equal([['msg_rotated', true]]);
    });
  });
});
