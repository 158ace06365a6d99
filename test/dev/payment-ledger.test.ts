// The sandbox provider's books: Stripe-like idempotency, declines on the ledger, 404/409, forced outcomes, the in-process provider.
import { expect } from 'chai';
import { SandboxLedger, sandboxProvider } from '../../scripts/sandboxes/payment-ledger.js';
import { CurrencyMismatchError, CustomerNotFoundError } from '../../shared/billing/provider/provider.js';

/** A `random` that returns the given values in turn and fails the test when more are drawn than scripted. */
function scripted(...values: number[]): () => number {
  return () => {
    const next = values.shift();
    if (next === undefined) throw new Error('random drawn more often than scripted');
    return next;
  };
}

const body = (reference: string, amount = 300) => ({ customerId: 'cus_1', amount, currency: 'EUR', reference });

describe('payment sandbox ledger', () => {
  let ledger: SandboxLedger;
  beforeEach(() => {
    ledger = new SandboxLedger();
    ledger.setAccount('cus_1', { balance: 1000, currency: 'EUR' });
  });

  it('answers a key with its first answer, debits once and writes one entry', () => {
    const first = ledger.charge(body('inv_1'), 'key_1');
    expect(first.status).to.equal(200);
    expect(first.body).to.include({ charged: true });
    // A different body and a changed balance do not matter: the key already has its answer.
    ledger.setAccount('cus_1', { balance: 0, currency: 'EUR' });
    const again = ledger.charge({ ...body('inv_2', 999), customerId: 'cus_unknown' }, 'key_1');
    expect(again).to.deep.equal(first);
    expect(ledger.getAccount('cus_1')).to.deep.equal({ balance: 0, currency: 'EUR' });
    const entries = ledger.entries();
    expect(entries).to.have.length(1);
    expect(entries[0]!.id).to.equal((first.body as { id: string }).id).and.match(/^ch_/);
    expect(entries[0]).to.include({ idempotencyKey: 'key_1', customerId: 'cus_1', amount: 300, currency: 'EUR', reference: 'inv_1', charged: true });
    expect(Number.isNaN(Date.parse(entries[0]!.createdAt))).to.equal(false);
  });

  it('debits the balance of each successful charge', () => {
    ledger.charge(body('inv_1', 300), 'key_1');
    ledger.charge(body('inv_2', 200), 'key_2');
    expect(ledger.getAccount('cus_1')).to.deep.equal({ balance: 500, currency: 'EUR' });
  });

  it('declines a charge the balance does not allow, and puts the decline on the ledger', () => {
    const answer = ledger.charge(body('inv_1', 1001), 'key_1');
    expect(answer.status).to.equal(200);
    expect(answer.body).to.include({ charged: false });
    expect(ledger.getAccount('cus_1')!.balance).to.equal(1000);
    expect(ledger.entries()).to.have.length(1);
    expect(ledger.entries()[0]).to.include({ charged: false, amount: 1001, reference: 'inv_1' });
    // The decline is the key's answer even once the balance would allow it.
    ledger.setAccount('cus_1', { balance: 5000, currency: 'EUR' });
    expect(ledger.charge(body('inv_1', 1001), 'key_1')).to.deep.equal(answer);
    expect(ledger.entries()).to.have.length(1);
  });

  it('answers 404 for an unknown customer and 409 for another currency, stored for the key but not on the ledger', () => {
    const unknown = ledger.charge({ ...body('inv_1'), customerId: 'cus_x' }, 'key_404');
    expect(unknown.status).to.equal(404);
    expect(unknown.body).to.have.property('error').that.is.a('string');
    const mismatch = ledger.charge({ ...body('inv_2'), currency: 'USD' }, 'key_409');
    expect(mismatch.status).to.equal(409);
    ledger.setAccount('cus_x', { balance: 1000, currency: 'EUR' });
    expect(ledger.charge({ ...body('inv_1'), customerId: 'cus_x' }, 'key_404')).to.deep.equal(unknown);
    expect(ledger.charge(body('inv_2'), 'key_409')).to.deep.equal(mismatch);
    expect(ledger.entries()).to.deep.equal([]);
    expect(ledger.getAccount('cus_1')!.balance).to.equal(1000);
  });

  it('filters the ledger by reference, in order', () => {
    ledger.charge(body('inv_1', 100), 'a');
    ledger.charge(body('inv_2', 100), 'b');
    ledger.charge(body('inv_1', 2000), 'c');
    expect(ledger.entries({ reference: 'inv_1' }).map((e) => [e.idempotencyKey, e.charged])).to.deep.equal([['a', true], ['c', false]]);
    expect(ledger.entries({ reference: 'inv_9' })).to.deep.equal([]);
    expect(ledger.entries().map((e) => e.idempotencyKey)).to.deep.equal(['a', 'b', 'c']);
  });

  it('forces outcomes with the given rates, stores them as first answers, and draws only for rates above 0', () => {
    // Draws: key_1 unknownCustomer 0.1 (< 0.5: forced 404); key_2 0.9 then currencyMismatch 0.2 (forced 409);
    // key_3 0.9, 0.9, insufficientBalance 0.3 (forced decline); key_4 0.9, 0.9, 0.9 (charged).
    const forced = new SandboxLedger({
      rates: { unknownCustomer: 0.5, currencyMismatch: 0.5, insufficientBalance: 0.5 },
      random: scripted(0.1, 0.9, 0.2, 0.9, 0.9, 0.3, 0.9, 0.9, 0.9),
    });
    forced.setAccount('cus_1', { balance: 1000, currency: 'EUR' });
    expect(forced.charge(body('inv_1'), 'key_1').status).to.equal(404);
    expect(forced.charge(body('inv_2'), 'key_2').status).to.equal(409);
    expect(forced.charge(body('inv_3'), 'key_3').body).to.include({ charged: false });
    expect(forced.charge(body('inv_4'), 'key_4').body).to.include({ charged: true });
    // Known keys draw nothing (the script is spent, so a draw would throw) and keep their forced answers.
    expect(forced.charge(body('inv_1'), 'key_1').status).to.equal(404);
    expect(forced.charge(body('inv_3'), 'key_3').body).to.include({ charged: false });
    expect(forced.entries().map((e) => [e.reference, e.charged])).to.deep.equal([['inv_3', false], ['inv_4', true]]);
    expect(forced.getAccount('cus_1')!.balance).to.equal(700);
    // Back to 0: nothing is drawn any more.
    forced.setRates({});
    expect(forced.charge(body('inv_5'), 'key_5').body).to.include({ charged: true });
  });

  it('refuses rates outside 0..1 and amounts that are not positive integers', () => {
    expect(() => ledger.setRates({ unknownCustomer: 1.5 })).to.throw(RangeError);
    expect(() => ledger.charge(body('inv_1', 1.5), 'key_1')).to.throw(RangeError);
    expect(() => ledger.charge(body('inv_1', 0), 'key_1')).to.throw(RangeError);
  });

  describe('sandboxProvider', () => {
    it('returns the charge id and whether it charged, and maps 404 and 409 to their errors', async () => {
      const provider = sandboxProvider(ledger);
      const request = { customerId: 'cus_1', amountCents: 400, currency: 'EUR', reference: 'inv_1', idempotencyKey: 'key_1' };
      const result = await provider.charge(request);
      expect(result.charged).to.equal(true);
      expect(result.chargeId).to.equal(ledger.entries()[0]!.id);
      expect(await provider.charge(request)).to.deep.equal(result);
      expect(await provider.charge({ ...request, amountCents: 700, idempotencyKey: 'key_2' })).to.include({ charged: false });

      const notFound = await provider.charge({ ...request, customerId: 'cus_x', idempotencyKey: 'key_3' }).catch((err: unknown) => err);
      expect(notFound).to.be.instanceOf(CustomerNotFoundError).and.include({ customerId: 'cus_x' });
      const mismatch = await provider.charge({ ...request, currency: 'USD', idempotencyKey: 'key_4' }).catch((err: unknown) => err);
      expect(mismatch).to.be.instanceOf(CurrencyMismatchError).and.include({ customerId: 'cus_1', currency: 'USD' });
    });
  });
});
