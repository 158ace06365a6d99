// The API remembers who a key is for AUTH_CACHE_SECONDS: a revoked key stops working within that time, at once with 0.
import { expect } from 'chai';
import request from 'supertest';
import { hashApiKey } from '../../shared/access/users.js';
import { nowIso } from '../../shared/platform/db.js';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('API key cache', () => {
  const opened = closedAfterEach();
  let system: TestSystem;

  async function revokeAfterFirstUse(cacheSeconds: string) {
    system = opened(await createTestSystem({ AUTH_CACHE_SECONDS: cacheSeconds }));
    const { apiKey, auth } = await addUser(system.ctx.db, 'operator');
    await request(system.app).get('/v1/customers').set('Authorization', auth).expect(200);
    await system.ctx.db('api_keys').where({ key_hash: hashApiKey(apiKey) }).update({ revoked_at: nowIso() });
    return (await request(system.app).get('/v1/customers').set('Authorization', auth)).status;
  }

  it('keeps answering a just-revoked key while it is cached', async () => {
    expect(await revokeAfterFirstUse('60')).to.equal(200);
  });

  it('refuses a revoked key at once when the cache is off', async () => {
    expect(await revokeAfterFirstUse('0')).to.equal(401);
  });
});
