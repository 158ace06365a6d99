// A client reads its whsec_ secret and rotates it; the old one keeps signing for 24 hours.
import { expect } from 'chai';
import request from 'supertest';
import { signingSecrets } from '../../shared/callbacks/secrets.js';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('webhook secret', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let client: { auth: string; userId: string };
  beforeEach(async () => {
    system = opened(await createTestSystem());
    client = await addUser(system.ctx.db, 'client');
  });

  it('creates a secret on first read and returns the same one after', async () => {
    const first = await request(system.app).get('/v1/webhooks/secret').set('Authorization', client.auth).expect(200);
    expect(first.body.secret).to.match(/^whsec_[A-Za-z0-9+/=]{32}$/);
    expect(first.body).to.include({ version: 1 });
    expect(first.body.previous).to.deep.equal([]);
    const again = await request(system.app).get('/v1/webhooks/secret').set('Authorization', client.auth).expect(200);
    expect(again.body.secret).to.equal(first.body.secret);
  });

  it('rotates to a new secret and keeps the old one signing for 24 hours', async () => {
    const before = await request(system.app).get('/v1/webhooks/secret').set('Authorization', client.auth).expect(200);
    const rotated = await request(system.app).post('/v1/webhooks/secret/rotate').set('Authorization', client.auth).expect(200);
    expect(rotated.body.secret).to.not.equal(before.body.secret);
    expect(rotated.body.version).to.equal(2);
    expect(rotated.body.previous).to.have.length(1);
    const expiresIn = Date.parse(rotated.body.previous[0].expiresAt) - Date.now();
    expect(expiresIn).to.be.within(23.9 * 3600_000, 24 * 3600_000);

    const now = await signingSecrets(system.ctx.db, client.userId);
    expect(now.map((s) => s.secret)).to.deep.equal([rotated.body.secret, before.body.secret]);
    const tomorrow = await signingSecrets(system.ctx.db, client.userId, new Date(Date.now() + 24 * 3600_000 + 1000));
    expect(tomorrow.map((s) => s.secret)).to.deep.equal([rotated.body.secret]);
  });
});
