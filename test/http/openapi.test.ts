// The OpenAPI document: valid OpenAPI 3.1, every route the app registers is in it and nothing else, answers match it, and /docs renders offline.
import { validate } from '@readme/openapi-parser';
import { expect } from 'chai';
import type { Express } from 'express';
import request from 'supertest';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { documentedAnswer } from '../helpers/openapi.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  match(path: string): boolean;
}

/** Mounts that are not part of the API: Bull Board (an operator UI) and the files /docs loads. */
const NOT_API_MOUNTS = ['/admin/queues', '/docs'];

/** Every (method, path) the app answers, read from express's own router, in the document's `{param}` form. */
function registeredRoutes(app: Express): string[] {
  const routes: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) routes.push(`${method.toUpperCase()} ${prefix}${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle.stack) {
        const mount = ['/v1', ...NOT_API_MOUNTS].find((p) => layer.match(p));
        expect(mount, 'a router mounted where the test does not know').to.not.equal(undefined);
        if (mount === '/v1') walk(layer.handle.stack, mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes.sort();
}

describe('OpenAPI document', () => {
  const opened = closedAfterEach();
  let system: TestSystem;

  beforeEach(async () => {
    system = opened(await createTestSystem());
  });

  it('is served at /openapi.json without a key, and is valid OpenAPI 3.1', async () => {
    const res = await request(system.app).get('/openapi.json').expect(200).expect('content-type', /json/);
    expect(res.body.openapi).to.equal('3.1.0');
    const result = await validate(structuredClone(res.body));
    expect(result.valid, JSON.stringify(result, null, 2)).to.equal(true);
  });

  it('lists every route the app registers, and only those', async () => {
    const { body: document } = await request(system.app).get('/openapi.json').expect(200);
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(registeredRoutes(system.app)).to.deep.equal(documented);
  });

  it('documents for each authenticated route its security, rate-limit headers, errors and examples', async () => {
    const { body: document } = await request(system.app).get('/openapi.json').expect(200);
    expect(document.components.securitySchemes.bearerAuth).to.deep.include({ type: 'http', scheme: 'bearer' });
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, { security?: unknown[]; responses: Record<string, { headers?: object }> }>>)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!path.startsWith('/v1/')) {
          expect(operation.security, `${method} ${path} is public`).to.deep.equal([]);
          continue;
        }
        expect(operation.responses, `${method} ${path}`).to.include.keys('401', '429', '503');
        const success = Object.entries(operation.responses).find(([status]) => status.startsWith('2'));
        expect(success?.[1].headers, `${method} ${path}`).to.include.keys('RateLimit-Policy', 'RateLimit');
      }
    }
    expect(document.components.schemas.Error).to.be.an('object');
    expect(JSON.stringify(document.components.schemas.Error)).to.include('example');
  });

  it('describes what the routes really answer', async () => {
    const { db } = system.ctx;
    const customerId = await addCustomer(db);
    const operator = await addUser(db, 'operator');
    const check = documentedAnswer((await request(system.app).get('/openapi.json')).body);
    const call = async (method: 'get' | 'post', path: string, body?: object) => {
      const res = await request(system.app)[method](path).set('Authorization', operator.auth).send(body);
      check(method, path, res);
      return res;
    };
    const invoice = await call('post', '/v1/invoices', invoiceBody(customerId));
    await call('get', `/v1/invoices/${invoice.body.id}`);
    await call('get', '/v1/invoices?limit=2');
    await call('get', '/v1/invoices?limit=0');
    await call('get', `/v1/customers/${customerId}`);
    await call('get', '/v1/customers');
    await call('get', '/v1/users');
    const payment = await call('post', '/v1/payments', { customerId, amount: '12.50', currency: 'EUR' });
    await call('get', `/v1/payments/${payment.body.id}`);
    await call('get', '/v1/payments?from=2026-01-01');
    await call('post', '/v1/billing/runs', {});
    await call('get', '/v1/billing/runs');
    await call('get', '/v1/webhooks/secret');
    await call('get', '/v1/payments/nope');
    await call('post', '/v1/invoices', { ...invoiceBody(customerId), dueDat: '2026-12-01' });
  });

  it('renders at /docs from files the app serves itself', async () => {
    const page = await request(system.app).get('/docs').expect(200).expect('content-type', /html/);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).to.be.greaterThan(1);
    for (const asset of assets) {
      expect(asset, 'no outside resource').to.match(/^\/docs\//);
      await request(system.app).get(asset).expect(200);
    }
  });
});
