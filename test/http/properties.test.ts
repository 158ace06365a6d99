// Properties checked on generated input (fast-check): any invoice body is 202 or a 400 naming fields, resubmission keeps the id, pages cover a list once.
import { expect } from 'chai';
import fc from 'fast-check';
import request from 'supertest';
import { insertPendingInvoices } from '../helpers/billing.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

/** Fixed seeds would hide what a new seed finds; the seed is printed on failure, so a failing run can be replayed. */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);

/** Values a client might put in any field: every JSON type, awkward strings and numbers, nesting. */
const anyJson = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', ' ', '\u0000', 'NaN', '1e309', '10,00', '-0', '22%', '0000-01-01', '9999-12-31', '2026-02-30', '../../etc', '<x/>'),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e309, -1e309, Number.MAX_SAFE_INTEGER + 2, -0),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

describe('API properties', function () {
  this.timeout(120_000);
  const opened = closedAfterEach();
  let system: TestSystem;
  let customerId: string;
  let operator: { auth: string };

  beforeEach(async () => {
    system = opened(await createTestSystem());
    customerId = await addCustomer(system.ctx.db);
    operator = await addUser(system.ctx.db, 'operator');
  });

  it('answers any invoice body with 202, or with 400 naming at least one field', async () => {
    const fieldNames = ['customerId', 'number', 'issueDate', 'dueDate', 'currency', 'lines', 'callbackUrl', 'supplier', 'dueDat', '__proto__', 'constructor'];
    const lineFields = ['description', 'quantity', 'unitPrice', 'vatRate', 'natura', 'extra'];
    // Start from a valid body and change some fields, so the generator reaches deep into the document, not only its door.
    const mutation = fc.record({
      top: fc.dictionary(fc.constantFrom(...fieldNames), anyJson, { maxKeys: 3 }),
      drop: fc.subarray(['number', 'issueDate', 'currency', 'lines']),
      line: fc.dictionary(fc.constantFrom(...lineFields), anyJson, { maxKeys: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ top, drop, line }) => {
        const body: Record<string, unknown> = invoiceBody(customerId);
        (body.lines as Record<string, unknown>[])[0] = { ...(body.lines as Record<string, unknown>[])[0], ...line };
        for (const [k, v] of Object.entries(top)) Object.defineProperty(body, k, { value: v, enumerable: true, writable: true, configurable: true });
        for (const k of drop) delete body[k];
        const res = await request(system.app).post('/v1/invoices').set('Authorization', operator.auth).send(body);
        if (res.status === 202) return;
        expect(res.status, JSON.stringify(res.body)).to.equal(400);
        expect(res.body.error.code).to.be.oneOf(['invalid_request', 'invalid_json']);
        if (res.body.error.code === 'invalid_request') {
          expect(res.body.error.details).to.be.an('array').that.is.not.empty;
          for (const d of res.body.error.details) expect(d.field).to.be.a('string').and.not.equal('');
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('gives a resubmitted invoice the id it gave the first time', async () => {
    const number = fc.stringMatching(/^[A-Za-z0-9/_-]{1,20}$/);
    await fc.assert(
      fc.asyncProperty(number, fc.boolean(), async (invoiceNumber, external) => {
        const path = external ? '/v1/invoices/external' : '/v1/invoices';
        const body = invoiceBody(customerId, { number: invoiceNumber });
        const first = await request(system.app).post(path).set('Authorization', operator.auth).send(body).expect(202);
        const again = await request(system.app).post(path).set('Authorization', operator.auth).send(body).expect(202);
        expect(again.body.id).to.equal(first.body.id);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('pages through any list so that every item appears exactly once, whatever the page size', async () => {
    const { db } = system.ctx;
    // Rows share timestamps on purpose: the cursor must break ties by id.
    const ids = await insertPendingInvoices(db, { customerId, count: 37 });
    const stamps = ['2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z', '2026-11-02T00:00:00.001Z'];
    for (const [i, id] of ids.entries()) await db('invoices').where({ id }).update({ created_at: stamps[i % stamps.length] });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), async (limit) => {
        const seen: string[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 100; pages++) {
          const query: Record<string, string | number> = cursor ? { limit, cursor } : { limit };
          const res = await request(system.app).get('/v1/invoices').query(query).set('Authorization', operator.auth).expect(200);
          expect(res.body.data.length).to.be.at.most(limit);
          seen.push(...res.body.data.map((i: { id: string }) => i.id));
          cursor = res.body.nextCursor;
          if (!cursor) break;
        }
        expect(seen).to.have.lengthOf(ids.length);
        expect([...seen].sort()).to.deep.equal([...ids].sort());
      }),
      { numRuns: 15 },
    );
  });
});
