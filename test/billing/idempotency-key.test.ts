// Idempotency-Key on POST /v1/payments: the first answer replayed, another body refused, a request in progress 409, keys per user for 24 hours.
import { expect } from 'chai';
import request from 'supertest';
import { IDEMPOTENCY_STALE_MS, IDEMPOTENCY_TTL_MS, requestFingerprint } from '../../api/idempotency.js';
import { jobIds } from '../../queues/jobs.js';
import { DependencyUnavailableError } from '../../shared/platform/errors/unavailable.js';
import { addCustomer, addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('Idempotency-Key', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let customerId: string;
  let client: { userId: string; auth: string };

  beforeEach(async () => {
    system = opened(await createTestSystem());
    customerId = await addCustomer(system.ctx.db);
    client = await addUser(system.ctx.db, 'client', [customerId]);
  });

  const body = (overrides: Record<string, unknown> = {}) => ({ customerId, amount: '12.50', currency: 'EUR', ...overrides });
  const post = (key: string, payload: unknown, auth = client.auth) =>
    request(system.app).post('/v1/payments').set('Authorization', auth).set('Idempotency-Key', key).send(payload as object);
  const payments = async () =>
    (await system.ctx.db('payments').select('id', 'customer_id', 'amount_cents', 'user_id').orderBy('created_at')).map((r) => ({
      ...r,
      amount_cents: Number(r.amount_cents), // a string from PostgreSQL's bigint
    }));
  const keyRow = (userId: string, key: string) => system.ctx.db('idempotency_keys').first('*').where({ user_id: userId, key });
  /** Every one-off charge job, whatever its state (no worker runs here, so they wait). */
  const chargeJobs = async () => (await system.ctx.queues.get('charge').getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).map((j) => j.id);
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

  it('answers the same key and body with the first answer, marked as replayed, and creates one payment and one job', async () => {
    const first = await post('order-4711', body()).expect(202);
    expect(first.headers['idempotent-replayed']).to.equal(undefined);
    expect(first.body).to.include({ status: 'PENDING', amount: '12.50', customerId, userId: client.userId });

    for (let i = 0; i < 3; i++) {
      const again = await post('order-4711', body()).expect(202);
      expect(again.headers['idempotent-replayed']).to.equal('true');
      expect(again.headers.location).to.equal(`/v1/payments/${first.body.id}`);
      expect(again.body).to.deep.equal(first.body);
    }
    expect(await payments()).to.deep.equal([{ id: first.body.id, customer_id: customerId, amount_cents: 1250, user_id: client.userId }]);
    expect(await chargeJobs()).to.deep.equal([jobIds.oneOffCharge(first.body.id)]);
    const row = await keyRow(client.userId, 'order-4711');
    expect(row).to.include({ status: 'done', request_hash: requestFingerprint('POST', '/v1/payments', body()) });
    expect(Number(row.response_status)).to.equal(202);

    // Without a key every request is a new payment.
    const a = await request(system.app).post('/v1/payments').set('Authorization', client.auth).send(body()).expect(202);
    const b = await request(system.app).post('/v1/payments').set('Authorization', client.auth).send(body()).expect(202);
    expect(a.body.id).to.not.equal(b.body.id);
    expect(await payments()).to.have.length(3);
  });

  it('refuses the same key with another body with 422, and keeps the first answer', async () => {
    const first = await post('k-1', body()).expect(202);
    for (const other of [body({ amount: '12.51' }), body({ currency: 'USD' }), body({ description: 'more' })]) {
      const refused = await post('k-1', other).expect(422);
      expect(refused.body.error.code).to.equal('idempotency_key_reused');
      expect(refused.headers['idempotent-replayed']).to.equal(undefined);
    }
    // A body that is not a valid request is refused before the key is looked at, so it cannot spend or reuse one.
    const invalid = await post('k-1', {}).expect(400);
    expect(invalid.body.error.code).to.equal('invalid_request');
    const again = await post('k-1', body()).expect(202);
    expect(again.body.id).to.equal(first.body.id);
    expect(await payments()).to.have.length(1);
  });

  it('takes the same body with its fields in another order as the same request', async () => {
    const first = await post('k-order', { customerId, amount: '12.50', currency: 'EUR' }).expect(202);
    const again = await post('k-order', { currency: 'EUR', amount: '12.50', customerId }).expect(202);
    expect(again.headers['idempotent-replayed']).to.equal('true');
    expect(again.body.id).to.equal(first.body.id);
    expect(await payments()).to.have.length(1);
  });

  it('answers 409 while a request with the key is still in progress, and 422 for another body', async () => {
    const at = new Date().toISOString();
    await system.ctx.db('idempotency_keys').insert({
      user_id: client.userId,
      key: 'busy',
      request_hash: requestFingerprint('POST', '/v1/payments', body()),
      status: 'in_progress',
      created_at: at,
      locked_at: at,
    });
    const busy = await post('busy', body()).expect(409);
    expect(busy.body.error.code).to.equal('idempotency_key_in_use');
    await post('busy', body({ amount: '1.00' })).expect(422);
    // Still in progress a while later, but well short of the stale limit.
    await system.ctx.db('idempotency_keys').where({ user_id: client.userId, key: 'busy' }).update({ locked_at: ago(IDEMPOTENCY_STALE_MS / 2) });
    await post('busy', body()).expect(409);
    expect(await payments()).to.deep.equal([]);
    expect(await chargeJobs()).to.deep.equal([]);
    expect(await keyRow(client.userId, 'busy')).to.include({ status: 'in_progress' });
  });

  it('lets exactly one of several concurrent requests with one key through; the others answer 409 or replay it', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => post('race', body())));
    const statuses = answers.map((r) => r.status);
    for (const status of statuses) expect([202, 409]).to.include(status);
    const created = answers.filter((r) => r.status === 202);
    expect(created.length).to.be.at.least(1);
    expect(created.filter((r) => r.headers['idempotent-replayed'] !== 'true')).to.have.length(1);
    expect(new Set(created.map((r) => r.body.id)).size).to.equal(1);
    for (const r of answers.filter((a) => a.status === 409)) expect(r.body.error.code).to.equal('idempotency_key_in_use');
    const rows = await payments();
    expect(rows.map((r) => r.id)).to.deep.equal([created[0]!.body.id]);
    expect(await chargeJobs()).to.deep.equal([jobIds.oneOffCharge(created[0]!.body.id)]);
    // Once the first has answered, the key replays.
    const later = await post('race', body()).expect(202);
    expect(later.headers['idempotent-replayed']).to.equal('true');
    expect(later.body.id).to.equal(created[0]!.body.id);
  });

  it('treats a key older than 24 hours as new: a new payment, whatever the body', async () => {
    const first = await post('daily', body()).expect(202);
    const expire = () =>
      system.ctx.db('idempotency_keys').where({ user_id: client.userId, key: 'daily' }).update({ created_at: ago(IDEMPOTENCY_TTL_MS + 60_000) });

    await expire();
    const second = await post('daily', body()).expect(202);
    expect(second.headers['idempotent-replayed']).to.equal(undefined);
    expect(second.body.id).to.not.equal(first.body.id);
    expect(second.body.paymentRefId).to.not.equal(first.body.paymentRefId);
    // The new key replays its own answer.
    const replay = await post('daily', body()).expect(202);
    expect(replay.headers['idempotent-replayed']).to.equal('true');
    expect(replay.body.id).to.equal(second.body.id);

    // After another day the key may carry another body: a new request, not a 422, and not yesterday's payment.
    await expire();
    const other = await post('daily', body({ amount: '99.00' })).expect(202);
    expect(other.headers['idempotent-replayed']).to.equal(undefined);
    expect(other.body).to.include({ amount: '99.00', status: 'PENDING' });
    expect(other.body.id).to.not.be.oneOf([first.body.id, second.body.id]);

    const rows = await payments();
    expect(rows.map((r) => r.id)).to.have.members([first.body.id, second.body.id, other.body.id]);
    expect(rows.find((r) => r.id === other.body.id)!.amount_cents).to.equal(9900);
    expect(await chargeJobs()).to.have.members([first, second, other].map((r) => jobIds.oneOffCharge(r.body.id)));

    // A key just short of 24 hours still replays.
    await system.ctx.db('idempotency_keys').where({ user_id: client.userId, key: 'daily' }).update({ created_at: ago(IDEMPOTENCY_TTL_MS - 60_000) });
    const kept = await post('daily', body({ amount: '99.00' })).expect(202);
    expect(kept.headers['idempotent-replayed']).to.equal('true');
    expect(kept.body.id).to.equal(other.body.id);
  });

  it('keeps keys per user: two users may use the same key', async () => {
    const colleague = await addUser(system.ctx.db, 'client', [customerId]);
    const operator = await addUser(system.ctx.db, 'operator');
    const mine = await post('shared-key', body()).expect(202);
    const theirs = await post('shared-key', body(), colleague.auth).expect(202);
    const ops = await post('shared-key', body({ amount: '1.00' }), operator.auth).expect(202);
    for (const r of [mine, theirs, ops]) expect(r.headers['idempotent-replayed']).to.equal(undefined);
    expect(new Set([mine.body.id, theirs.body.id, ops.body.id]).size).to.equal(3);
    expect(theirs.body.userId).to.equal(colleague.userId);
    expect(await payments()).to.have.length(3);
    // Each replays its own.
    expect((await post('shared-key', body(), colleague.auth).expect(202)).body.id).to.equal(theirs.body.id);
    expect((await post('shared-key', body()).expect(202)).body.id).to.equal(mine.body.id);
  });

  it('does not spend the key on a refused request: a corrected retry with it succeeds', async () => {
    const bad = await post('retry-me', body({ amount: 'twelve' })).expect(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).to.deep.equal(['amount']);
    expect(await keyRow(client.userId, 'retry-me')).to.equal(undefined);

    const stranger = await addCustomer(system.ctx.db);
    await post('retry-me', body({ customerId: stranger })).expect(403);
    expect(await keyRow(client.userId, 'retry-me')).to.equal(undefined);
    expect(await payments()).to.deep.equal([]);

    const ok = await post('retry-me', body()).expect(202);
    expect(ok.headers['idempotent-replayed']).to.equal(undefined);
    const replay = await post('retry-me', body()).expect(202);
    expect(replay.headers['idempotent-replayed']).to.equal('true');
    expect(replay.body.id).to.equal(ok.body.id);
    expect(await payments()).to.have.length(1);
  });

  it('lets the key go when the job cannot be queued, leaving no payment, so the retry succeeds', async () => {
    const queues = system.ctx.queues;
    const add = queues.add;
    queues.add = async () => {
      throw new DependencyUnavailableError('redis');
    };
    try {
      const down = await post('redis-down', body()).expect(503);
      expect(down.body.error.code).to.equal('service_unavailable');
    } finally {
      queues.add = add;
    }
    expect(await payments()).to.deep.equal([]);
    expect(await keyRow(client.userId, 'redis-down')).to.equal(undefined);

    const ok = await post('redis-down', body()).expect(202);
    expect(ok.headers['idempotent-replayed']).to.equal(undefined);
    expect((await payments()).map((r) => r.id)).to.deep.equal([ok.body.id]);
    expect(await chargeJobs()).to.deep.equal([jobIds.oneOffCharge(ok.body.id)]);
  });

  it('keeps the key when a failed request leaves a payment behind, so the retry finds that payment', async () => {
    const first = await post('half-done', body()).expect(202);
    // As if the process died after creating the payment and before storing the answer, and the job was charged meanwhile.
    await system.ctx.db('payments').where({ id: first.body.id }).update({ status: 'PAID' });
    await system.ctx.db('idempotency_keys')
      .where({ user_id: client.userId, key: 'half-done' })
      .update({ status: 'in_progress', response_status: null, response_body: null, locked_at: ago(IDEMPOTENCY_STALE_MS + 1000) });
    // The retry takes the key over; Redis refuses its job, but the payment is not its to undo: the key stays held.
    const queues = system.ctx.queues;
    const add = queues.add;
    queues.add = async () => {
      throw new DependencyUnavailableError('redis');
    };
    try {
      await post('half-done', body()).expect(503);
    } finally {
      queues.add = add;
    }
    expect(await keyRow(client.userId, 'half-done')).to.include({ status: 'in_progress' });
    await post('half-done', body()).expect(409);
    expect((await payments()).map((r) => r.id)).to.deep.equal([first.body.id]);

    // Once that hold is stale, the next retry finds the payment.
    await system.ctx.db('idempotency_keys').where({ user_id: client.userId, key: 'half-done' }).update({ locked_at: ago(IDEMPOTENCY_STALE_MS + 1000) });
    const found = await post('half-done', body()).expect(202);
    expect(found.body).to.include({ id: first.body.id, status: 'PAID' });
    expect((await payments()).map((r) => r.id)).to.deep.equal([first.body.id]);
  });

  it('refuses a malformed key with 400', async () => {
    for (const key of ['x'.repeat(256), 'with space', 'naïve']) {
      const res = await request(system.app)
        .post('/v1/payments')
        .set('Authorization', client.auth)
        .set('Idempotency-Key', Buffer.from(key, 'utf8').toString('latin1'))
        .send(body())
        .expect(400);
      expect(res.body.error.details).to.deep.equal([{ field: 'Idempotency-Key', message: '1 to 255 printable ASCII characters' }]);
    }
    await post('x'.repeat(255), body()).expect(202);
    expect(await payments()).to.have.length(1);
  });

  it('takes over a key whose request has held it for over 60 s, and only then', async () => {
    const hash = requestFingerprint('POST', '/v1/payments', body());
    await system.ctx.db('idempotency_keys').insert({
      user_id: client.userId,
      key: 'abandoned',
      request_hash: hash,
      status: 'in_progress',
      created_at: ago(IDEMPOTENCY_STALE_MS + 5000),
      locked_at: ago(IDEMPOTENCY_STALE_MS - 5000),
    });
    await post('abandoned', body()).expect(409);
    await system.ctx.db('idempotency_keys').where({ user_id: client.userId, key: 'abandoned' }).update({ locked_at: ago(IDEMPOTENCY_STALE_MS + 1000) });
    const taken = await post('abandoned', body()).expect(202);
    expect(taken.headers['idempotent-replayed']).to.equal(undefined);
    expect(taken.body.status).to.equal('PENDING');
    expect(await keyRow(client.userId, 'abandoned')).to.include({ status: 'done', request_hash: hash });
    expect((await post('abandoned', body()).expect(202)).body.id).to.equal(taken.body.id);
    expect(await payments()).to.have.length(1);
  });

  it('finds the payment a crashed request made when its key is taken over, rather than making another', async () => {
    const first = await post('crash', body()).expect(202);
    // As if the process died after creating the payment and queueing it, before storing the answer.
    await system.ctx.db('idempotency_keys')
      .where({ user_id: client.userId, key: 'crash' })
      .update({ status: 'in_progress', response_status: null, response_body: null, locked_at: ago(IDEMPOTENCY_STALE_MS + 1000) });
    const again = await post('crash', body()).expect(202);
    expect(again.headers['idempotent-replayed']).to.equal(undefined);
    expect(again.body.id).to.equal(first.body.id);
    expect(await payments()).to.have.length(1);
    expect(await chargeJobs()).to.deep.equal([jobIds.oneOffCharge(first.body.id)]);
  });
});

