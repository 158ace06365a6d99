// The collections API: asking for a collection (validation, the SSRF check, the row before the 202, Idempotency-Key), reading it, listing and paging, and scoping to the asker.
import { expect } from 'chai';
import request from 'supertest';
import { jobIds } from '../../queues/jobs.js';
import { findCollection } from '../../shared/collections/store.js';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createCollectionsTestSystem, type CollectionsTestSystem } from '../helpers/collections.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('collections API', () => {
  const opened = closedAfterEach();
  let t: CollectionsTestSystem;

  beforeEach(async () => {
    t = opened(await createCollectionsTestSystem());
  });

  const body = (overrides: Record<string, unknown> = {}) => ({ provider: 'gas', callbackUrl: t.receiver.url(), ...overrides });
  const post = (b: unknown, auth = t.client.auth) => request(t.system.app).post('/v1/collections').set('Authorization', auth).send(b as object);
  const get = (path: string, auth = t.client.auth) => request(t.system.app).get(path).set('Authorization', auth);
  const rows = async () => Number((await t.system.ctx.db('collections').count({ n: '*' }))[0]!.n);

  describe('POST /v1/collections', () => {
    it('writes the request before answering 202 with its requestId, status and links, and queues its job', async () => {
      const res = await post(body({ provider: 'internet' })).expect(202);
      expect(res.body).to.include({ provider: 'internet', status: 'pending', attemptsMade: 0, nextAttemptAt: null, reason: null, callbackUrl: t.receiver.url() });
      expect(res.body.requestId).to.match(UUID);
      expect(res.body.links).to.deep.equal({ self: `/v1/collections/${res.body.requestId}` });
      expect(res.headers.location).to.equal(`/v1/collections/${res.body.requestId}`);
      expect((await findCollection(t.system.ctx.db, res.body.requestId))?.status).to.equal('pending');
      expect((await t.system.ctx.queues.getJob('collect', jobIds.collect(res.body.requestId)))?.data).to.deep.equal({ requestId: res.body.requestId });
    });

    it('refuses a bad body with 400 naming the failing field, and writes nothing', async () => {
      const fields = async (b: unknown) => {
        const res = await post(b);
        expect(res.status, JSON.stringify(b)).to.equal(400);
        expect(res.body.error.code).to.equal('invalid_request');
        return (res.body.error.details as { field: string }[]).map((d) => d.field);
      };
      expect(await fields(body({ provider: 'water' }))).to.deep.equal(['provider']);
      expect(await fields(body({ provider: 'GAS' }))).to.deep.equal(['provider']);
      expect(await fields({ provider: 'gas' })).to.deep.equal(['callbackUrl']);
      expect(await fields({ callbackUrl: t.receiver.url() })).to.deep.equal(['provider']);
      expect(await fields(body({ extra: 1 }))).to.deep.equal(['extra']);
      for (const callbackUrl of ['ftp://127.0.0.1/hooks', 'not a url', 'http://10.0.0.1/x', 'http://169.254.169.254/latest', 'http://[::1]:80/x', `http://example.com/${'a'.repeat(2100)}`]) {
        expect(await fields(body({ callbackUrl })), callbackUrl).to.deep.equal(['callbackUrl']);
      }
      expect(await rows()).to.equal(0);
    });

    it('answers a replayed Idempotency-Key with the first request, and refuses the key with another body', async () => {
      const first = await post(body()).set('Idempotency-Key', 'ask-1').expect(202);
      const again = await post(body()).set('Idempotency-Key', 'ask-1').expect(202);
      expect(again.body.requestId).to.equal(first.body.requestId);
      expect(again.headers['idempotent-replayed']).to.equal('true');
      await post(body({ provider: 'internet' })).set('Idempotency-Key', 'ask-1').expect(422);
      expect(await rows()).to.equal(1);
    });
  });

  describe('GET /v1/collections/:requestId', () => {
    it('shows a pending request with no attempts and no data', async () => {
      const { requestId } = await t.ask();
      const read = await t.read(requestId);
      expect(read).to.include({ requestId, status: 'pending', data: null, attemptsMade: 0 });
      expect(read.attempts).to.deep.equal([]);
      expect(read.callbacks).to.deep.equal([]);
    });

    it('is the asker’s: another client gets 404, as for a request that does not exist; an operator sees it', async () => {
      const { requestId } = await t.ask();
      const other = await addUser(t.system.ctx.db, 'client');
      const hidden = await get(`/v1/collections/${requestId}`, other.auth).expect(404);
      const missing = await get('/v1/collections/00000000-0000-4000-8000-000000000000', other.auth).expect(404);
      expect(hidden.body).to.deep.equal(missing.body);
      const operator = await addUser(t.system.ctx.db, 'operator');
      expect((await get(`/v1/collections/${requestId}`, operator.auth).expect(200)).body.requestId).to.equal(requestId);
    });
  });

  describe('GET /v1/collections', () => {
    it('lists the caller’s requests newest first, in cursor pages, filtered by status and provider', async () => {
      const asked: string[] = [];
      for (let i = 0; i < 5; i++) asked.push((await t.ask({ provider: i % 2 ? 'internet' : 'gas' })).requestId);
      const other = await addUser(t.system.ctx.db, 'client');
      await post(body(), other.auth).expect(202);

      const first = await get('/v1/collections?limit=2').expect(200);
      expect(first.body.data).to.have.length(2);
      const second = await get(`/v1/collections?limit=2&cursor=${first.body.nextCursor}`).expect(200);
      const third = await get(`/v1/collections?limit=2&cursor=${second.body.nextCursor}`).expect(200);
      expect(third.body.nextCursor).to.equal(null);
      const listed = [...first.body.data, ...second.body.data, ...third.body.data].map((c: { requestId: string }) => c.requestId);
      expect(listed).to.have.members(asked).and.to.have.length(5);
      expect(first.body.data[0]).to.not.have.property('data');

      const internet = await get('/v1/collections?provider=internet').expect(200);
      expect(internet.body.data.map((c: { requestId: string }) => c.requestId)).to.have.members([asked[1], asked[3]]);
      expect((await get('/v1/collections?status=pending').expect(200)).body.data).to.have.length(5);
      expect((await get('/v1/collections?status=succeeded').expect(200)).body.data).to.have.length(0);
      await get('/v1/collections?status=done').expect(400);
      await get('/v1/collections?unknown=1').expect(400);
    });
  });
});
