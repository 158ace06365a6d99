// Intake refuses with a clear 400 what a FatturaPA document cannot carry, rather than sending one the SdI discards.
import { expect } from 'chai';
import request from 'supertest';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

describe('what the SdI can represent', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let customerId: string;
  let auth: string;
  beforeEach(async () => {
    system = opened(await createTestSystem());
    customerId = await addCustomer(system.ctx.db);
    auth = (await addUser(system.ctx.db, 'operator')).auth;
  });

  const fields = async (overrides: Record<string, unknown>) => {
    const res = await request(system.app).post('/v1/invoices').set('Authorization', auth).send(invoiceBody(customerId, overrides)).expect(400);
    return res.body.error.details as { field: string; message: string }[];
  };

  it('refuses text outside Latin-1 in a description, and outside Basic Latin in the number', async () => {
    const line = { description: 'Servizio da 10 € — con emoji 🚀', quantity: 1, unitPrice: '10', vatRate: 22 };
    expect(await fields({ lines: [line] })).to.deep.equal([{ field: 'lines.0.description', message: 'only Latin-1 characters can be sent to the SdI' }]);
    expect((await fields({ number: 'FT-è1' }))[0]!.field).to.equal('number');
  });

  it('refuses a line or an invoice whose amount needs more than 11 integer digits', async () => {
    const huge = { description: 'Grande fornitura', quantity: '1000', unitPrice: '99999999999', vatRate: 22 };
    const [problem] = await fields({ lines: [huge] });
    expect(problem).to.deep.equal({ field: 'lines.0.unitPrice', message: 'the line total exceeds 99999999999.99, the most an SdI invoice can carry' });

    const big = { description: 'Grande fornitura', quantity: '1', unitPrice: '90000000000', vatRate: 22 };
    const [total] = await fields({ lines: [big] });
    expect(total).to.deep.equal({ field: 'lines', message: 'the invoice total exceeds 99999999999.99, the most an SdI invoice can carry' });
  });
});
