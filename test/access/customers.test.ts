// Operators create customers with what a FatturaPA document needs of a buyer.
import { expect } from 'chai';
import request from 'supertest';
import { addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';

const buyer = {
  id: 'acme-it',
  name: 'Acme Italia S.p.A.',
  vatNumber: 'IT01879020517',
  address: { street: 'Via Torino 3', postalCode: '10121', city: 'Torino', province: 'TO', country: 'IT' },
  sdiCode: 'KRRH6B9',
  currency: 'EUR',
  email: 'ap@acme.example',
  username: 'acme',
};

describe('customers', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  let operator: { auth: string };
  beforeEach(async () => {
    system = opened(await createTestSystem());
    operator = await addUser(system.ctx.db, 'operator');
  });

  it('creates a customer and reads it back', async () => {
    const res = await request(system.app).post('/v1/customers').set('Authorization', operator.auth).send(buyer).expect(201);
    expect(res.headers.location).to.equal('/v1/customers/acme-it');
    expect(res.body).to.deep.include({ id: 'acme-it', sdiCode: 'KRRH6B9', currency: 'EUR', pec: null });
    const read = await request(system.app).get('/v1/customers/acme-it').set('Authorization', operator.auth).expect(200);
    expect(read.body.address).to.deep.equal({ ...buyer.address });
    await request(system.app).post('/v1/customers').set('Authorization', operator.auth).send(buyer).expect(409);
  });

  it('takes a PEC instead of a recipient code, and needs a VAT number or fiscal code', async () => {
    const { sdiCode: _sdiCode, vatNumber: _vat, ...rest } = buyer;
    const pec = await request(system.app)
      .post('/v1/customers')
      .set('Authorization', operator.auth)
      .send({ ...rest, id: 'pec-buyer', fiscalCode: 'RSSMRA80A01H501U', pec: 'acme@pec.example.it' })
      .expect(201);
    expect(pec.body).to.include({ sdiCode: '0000000', pec: 'acme@pec.example.it' });
    const bad = await request(system.app).post('/v1/customers').set('Authorization', operator.auth).send({ ...rest, id: 'nobody' }).expect(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).to.have.members(['vatNumber', 'sdiCode']);
  });
});
