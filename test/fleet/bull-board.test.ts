// Bull Board is served at /admin/queues to operators with the configured credentials, and to no one else.
import { expect } from 'chai';
import request from 'supertest';
import { handlers } from '../../workers/index.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('Bull Board', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  beforeEach(async () => {
    system = opened(await createTestSystem({ ADMIN_USER: 'ops', ADMIN_PASSWORD: 'correct horse battery' }));
  });

  it('asks for credentials and refuses wrong ones', async () => {
    const none = await request(system.app).get('/admin/queues').expect(401);
    expect(none.headers['www-authenticate']).to.match(/^Basic/);
    await request(system.app).get('/admin/queues').auth('ops', 'wrong').expect(401);
  });

  it('lists every queue the workers serve to an operator, and no other', async () => {
    await request(system.app).get('/admin/queues').auth('ops', 'correct horse battery').expect(200);
    const api = await request(system.app).get('/admin/queues/api/queues').auth('ops', 'correct horse battery').expect(200);
    const names = (api.body.queues as { name: string }[]).map((q) => q.name);
    expect(names).to.have.members(['invoice-save', 'sdi-send', 'charge', 'billing', 'callback', 'collect', 'orders', 'mail', 'reports', 'maintenance']);
    for (const name of names) expect(handlers, `handlers of ${name}`).to.have.property(name);
  });
});
