// Every API request leaves one log line with its id, status, duration and caller; the id is echoed to the client.
import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { captureLogs } from '../helpers/logs.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

describe('request log', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  beforeEach(async () => {
    system = opened(await createTestSystem());
  });

  function capture() {
    const { log, lines } = captureLogs();
    return { lines, app: createApp({ ...system.ctx, log }) };
  }

  it('echoes a given request id and logs one line with the caller', async () => {
    const { lines, app } = capture();
    const { auth, userId } = await addUser(system.ctx.db, 'operator');
    const res = await request(app).get('/v1/customers').set('Authorization', auth).set('x-request-id', 'trace-123').expect(200);
    expect(res.headers['x-request-id']).to.equal('trace-123');
    const line = await waitFor(() => lines.find((l) => l.reqId === 'trace-123'));
    expect(line).to.include({ method: 'GET', url: '/v1/customers', status: 200, userId, msg: 'request completed', level: 30 });
    expect(line.ms).to.be.a('number');
    expect(JSON.stringify(line)).to.not.contain(auth.slice(7));
  });

  it('makes up an id when none (or an unsafe one) is given, and logs refusals as warnings', async () => {
    const { lines, app } = capture();
    const res = await request(app).get('/v1/invoices').set('x-request-id', 'bad id\twith spaces').expect(401);
    expect(res.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    const line = await waitFor(() => lines.find((l) => l.reqId === res.headers['x-request-id']));
    expect(line).to.include({ status: 401, level: 40 });
  });

  it('keeps health checks out of the log', async () => {
    const { lines, app } = capture();
    await request(app).get('/healthz').expect(200);
    await request(app).get('/nowhere').expect(404);
    await waitFor(() => lines.some((l) => l.url === '/nowhere'));
    expect(lines.filter((l) => l.url === '/healthz')).to.deep.equal([]);
  });
});
