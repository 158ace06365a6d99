// Operators manage users, their API keys and the customers they are linked to; clients may do none of it.
import { expect } from 'chai';
import request from 'supertest';
import { addCustomer, addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('users API', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let operator: { auth: string };
  let customerA: string;
  let customerB: string;

  beforeEach(async () => {
    // No auth cache: a link, an unlink or a revocation must show on the very next request.
    system = opened(await createTestSystem({ AUTH_CACHE_SECONDS: '0' }));
    operator = await addUser(system.ctx.db, 'operator');
    customerA = await addCustomer(system.ctx.db);
    customerB = await addCustomer(system.ctx.db);
  });

  const api = () => request(system.app);
  const bearer = (key: string) => `Bearer ${key}`;
  const customerIdsSeenBy = async (auth: string) =>
    ((await api().get('/v1/customers').set('Authorization', auth).expect(200)).body.data as { id: string }[]).map((c) => c.id);

  async function createUser(body: Record<string, unknown> = {}) {
    const res = await api()
      .post('/v1/users')
      .set('Authorization', operator.auth)
      .send({ username: `client-${Math.random().toString(36).slice(2, 10)}`, email: 'someone@client.example', role: 'client', ...body })
      .expect(201);
    return res;
  }

  it('creates a client user whose key works and who sees no customer yet', async () => {
    const res = await createUser({ username: 'mario.rossi_2', email: 'mario@rossi.example' });
    const { id, apiKey } = res.body;
    expect(res.headers.location).to.equal(`/v1/users/${id}`);
    expect(res.body).to.deep.equal({ id, username: 'mario.rossi_2', email: 'mario@rossi.example', role: 'client', customerIds: [], createdAt: res.body.createdAt, apiKey });
    expect(apiKey).to.match(/^ak_/);
    expect(new Date(res.body.createdAt).toISOString()).to.equal(res.body.createdAt);
    expect(await customerIdsSeenBy(bearer(apiKey))).to.deep.equal([]);
  });

  it('links customers at creation, and checks that they exist without leaving anything behind', async () => {
    const linked = await createUser({ customerIds: [customerA, customerA] });
    expect(linked.body.customerIds).to.deep.equal([customerA]);
    expect(await customerIdsSeenBy(bearer(linked.body.apiKey))).to.deep.equal([customerA]);

    const bad = await api()
      .post('/v1/users')
      .set('Authorization', operator.auth)
      .send({ username: 'ghost', email: 'ghost@client.example', role: 'client', customerIds: [customerB, 'no-such-customer'] })
      .expect(400);
    expect(bad.body.error.code).to.equal('invalid_request');
    expect(bad.body.error.details).to.deep.equal([{ field: 'customerIds.1', message: 'no customer no-such-customer' }]);
    expect(await system.ctx.db('users').where({ username: 'ghost' })).to.deep.equal([]);
  });

  it('links and unlinks customers, idempotently', async () => {
    const { id, apiKey } = (await createUser()).body;
    const link = () => api().put(`/v1/users/${id}/customers/${customerA}`).set('Authorization', operator.auth);
    await link().expect(204);
    expect(await customerIdsSeenBy(bearer(apiKey))).to.deep.equal([customerA]);
    await api().get(`/v1/customers/${customerB}`).set('Authorization', bearer(apiKey)).expect(404);
    await link().expect(204);
    expect(await customerIdsSeenBy(bearer(apiKey))).to.deep.equal([customerA]);
    const read = await api().get(`/v1/users/${id}`).set('Authorization', operator.auth).expect(200);
    expect(read.body.customerIds).to.deep.equal([customerA]);

    const unlink = () => api().delete(`/v1/users/${id}/customers/${customerA}`).set('Authorization', operator.auth);
    await unlink().expect(204);
    expect(await customerIdsSeenBy(bearer(apiKey))).to.deep.equal([]);
    await api().get(`/v1/customers/${customerA}`).set('Authorization', bearer(apiKey)).expect(404);
    await unlink().expect(204);
  });

  it('answers 404 for an unknown user, customer or key', async () => {
    const { id } = (await createUser()).body;
    const as = (req: request.Test) => req.set('Authorization', operator.auth).expect(404);
    for (const res of [
      await as(api().get('/v1/users/nobody')),
      await as(api().post('/v1/users/nobody/api-keys')),
      await as(api().delete(`/v1/users/nobody/api-keys/whatever`)),
      await as(api().delete(`/v1/users/${id}/api-keys/whatever`)),
      await as(api().put(`/v1/users/nobody/customers/${customerA}`)),
      await as(api().put(`/v1/users/${id}/customers/no-such-customer`)),
      await as(api().delete(`/v1/users/nobody/customers/${customerA}`)),
    ]) {
      expect(res.body.error.code).to.equal('not_found');
    }
    // A key is found through its user: another user's key id is not this user's key.
    const other = (await createUser()).body;
    const { apiKeys } = (await api().get(`/v1/users/${other.id}`).set('Authorization', operator.auth).expect(200)).body;
    await as(api().delete(`/v1/users/${id}/api-keys/${apiKeys[0].id}`));
    await api().get('/v1/customers').set('Authorization', bearer(other.apiKey)).expect(200);
  });

  it('refuses a duplicate username with 409', async () => {
    await createUser({ username: 'taken' });
    const res = await api()
      .post('/v1/users')
      .set('Authorization', operator.auth)
      .send({ username: 'taken', email: 'other@client.example', role: 'operator' })
      .expect(409);
    expect(res.body.error.code).to.equal('conflict');
    expect(await system.ctx.db('users').where({ username: 'taken' })).to.have.length(1);
  });

  it('rejects an invalid body with the failing fields', async () => {
    const res = await api()
      .post('/v1/users')
      .set('Authorization', operator.auth)
      .send({ username: 'has space', email: 'not-an-email', role: 'admin', customerIds: 'acme' })
      .expect(400);
    expect(res.body.error.code).to.equal('invalid_request');
    expect(res.body.error.details.map((d: { field: string }) => d.field)).to.have.members(['username', 'email', 'role', 'customerIds']);
    const long = await api().post('/v1/users').set('Authorization', operator.auth).send({ username: 'x'.repeat(65), email: 'a@b.example', role: 'client' }).expect(400);
    expect(long.body.error.details.map((d: { field: string }) => d.field)).to.deep.equal(['username']);
    const empty = await api().post('/v1/users').set('Authorization', operator.auth).send({}).expect(400);
    expect(empty.body.error.details.map((d: { field: string }) => d.field)).to.have.members(['username', 'email', 'role']);
  });

  it('lets a client call none of the users endpoints', async () => {
    const client = await addUser(system.ctx.db, 'client', [customerA]);
    const { id } = (await createUser()).body;
    const calls = [
      api().post('/v1/users').send({ username: 'sneaky', email: 'sneaky@client.example', role: 'operator' }),
      api().get('/v1/users'),
      api().get(`/v1/users/${id}`),
      api().post(`/v1/users/${id}/api-keys`),
      api().delete(`/v1/users/${id}/api-keys/whatever`),
      api().put(`/v1/users/${client.userId}/customers/${customerB}`),
      api().delete(`/v1/users/${id}/customers/${customerA}`),
    ];
    for (const call of calls) {
      const res = await call.set('Authorization', client.auth).expect(403);
      expect(res.body.error.code).to.equal('forbidden');
    }
    expect(await system.ctx.db('users').where({ username: 'sneaky' })).to.deep.equal([]);
    expect(await customerIdsSeenBy(client.auth)).to.deep.equal([customerA]);
  });

  it('shows the key only when it is made, and lists users newest first without keys', async () => {
    const first = (await createUser()).body;
    const second = (await createUser({ customerIds: [customerB] })).body;
    // Distinct times, so "newest first" does not fall back on the order of random ids.
    const later = (ms: number) => new Date(Date.now() + ms).toISOString();
    await system.ctx.db('users').where({ id: first.id }).update({ created_at: later(1000) });
    await system.ctx.db('users').where({ id: second.id }).update({ created_at: later(2000) });
    second.createdAt = (await api().get(`/v1/users/${second.id}`).set('Authorization', operator.auth).expect(200)).body.createdAt;
    const read = await api().get(`/v1/users/${second.id}`).set('Authorization', operator.auth).expect(200);
    const { apiKey: _apiKey, ...shown } = second;
    expect(read.body).to.deep.include(shown);
    expect(read.body.apiKeys).to.have.length(1);
    expect(read.body.apiKeys[0]).to.have.all.keys('id', 'prefix', 'createdAt', 'revokedAt');
    expect(read.body.apiKeys[0]).to.include({ prefix: second.apiKey.slice(0, 12), revokedAt: null });
    expect(read.text).not.to.include(second.apiKey);

    const page1 = await api().get('/v1/users?limit=2').set('Authorization', operator.auth).expect(200);
    expect(page1.body.data.map((u: { id: string }) => u.id)).to.deep.equal([second.id, first.id]);
    expect(page1.text).not.to.include(first.apiKey);
    expect(page1.text).not.to.include(second.apiKey);
    expect(page1.text).not.to.match(/hash/i);
    expect(page1.body.nextCursor).to.be.a('string');
    const page2 = await api().get(`/v1/users?limit=2&cursor=${page1.body.nextCursor}`).set('Authorization', operator.auth).expect(200);
    expect(page2.body.data).to.have.length(1); // the operator from the fixture
    expect(page2.body.nextCursor).to.equal(null);
    await api().get('/v1/users?cursor=garbage').set('Authorization', operator.auth).expect(400);
  });

  it('issues a second key that works alongside the first, and revokes either', async () => {
    const { id, apiKey: firstKey } = (await createUser({ customerIds: [customerA] })).body;
    const issued = await api().post(`/v1/users/${id}/api-keys`).set('Authorization', operator.auth).expect(201);
    const secondKey: string = issued.body.apiKey;
    expect(issued.body).to.have.all.keys('id', 'prefix', 'createdAt', 'apiKey');
    expect(issued.body.prefix).to.equal(secondKey.slice(0, 12));
    expect(secondKey).not.to.equal(firstKey);
    expect(await customerIdsSeenBy(bearer(firstKey))).to.deep.equal([customerA]);
    expect(await customerIdsSeenBy(bearer(secondKey))).to.deep.equal([customerA]);

    const before = (await api().get(`/v1/users/${id}`).set('Authorization', operator.auth).expect(200)).body;
    const firstKeyId = before.apiKeys.find((k: { id: string }) => k.id !== issued.body.id).id;
    await api().delete(`/v1/users/${id}/api-keys/${firstKeyId}`).set('Authorization', operator.auth).expect(204);
    const refused = await api().get('/v1/customers').set('Authorization', bearer(firstKey)).expect(401);
    expect(refused.body.error.code).to.equal('unauthorized');
    expect(await customerIdsSeenBy(bearer(secondKey))).to.deep.equal([customerA]);

    const after = (await api().get(`/v1/users/${id}`).set('Authorization', operator.auth).expect(200)).body;
    const revoked = after.apiKeys.find((k: { id: string }) => k.id === firstKeyId);
    expect(revoked.revokedAt).to.be.a('string');
    // Revoking again is harmless and keeps the first revocation time.
    await api().delete(`/v1/users/${id}/api-keys/${firstKeyId}`).set('Authorization', operator.auth).expect(204);
    const again = (await api().get(`/v1/users/${id}`).set('Authorization', operator.auth).expect(200)).body;
    expect(again.apiKeys.find((k: { id: string }) => k.id === firstKeyId).revokedAt).to.equal(revoked.revokedAt);
  });

  it('creates an operator who sees every customer', async () => {
    const res = await createUser({ role: 'operator' });
    expect(res.body.role).to.equal('operator');
    expect(await customerIdsSeenBy(bearer(res.body.apiKey))).to.have.members([customerA, customerB]);
    await api().get('/v1/users').set('Authorization', bearer(res.body.apiKey)).expect(200);
  });
});
