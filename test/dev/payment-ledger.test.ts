// The sandbox provider's books: Stripe-like idempotency, declines on the ledger, 404/409 with their codes, forced outcomes, forgotten keys, refunds under their charges, the in-process provider.
import { expect } from 'chai';
import { SandboxLedger, sandboxProvider } from '../../scripts/sandboxes/payment-ledger.js';
import { CurrencyMismatchError, CustomerNotFoundError, RefundRefusedError } from '../../shared/billing/provider/provider.js';

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
    expect(unknown.body).to.deep.equal({ error: { code: 'customer_not_found', message: 'no account for customer cus_x' } });
    const mismatch = ledger.charge({ ...body('inv_2'), currency: 'USD' }, 'key_409');
    expect(mismatch.status).to.equal(409);
    expect(mismatch.body).to.deep.equal({ error: { code: 'currency_mismatch', message: 'the account of customer cus_1 is not in USD' } });
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

  it('forgets every stored answer with forgetKeys(): the key charges again, and the ledger keeps both charges', () => {
    const first = ledger.charge(body('inv_1'), 'key_1');
    expect(ledger.hasChargeAnswer('key_1')).to.equal(true);
    ledger.forgetKeys();
    expect(ledger.hasChargeAnswer('key_1')).to.equal(false);
    const second = ledger.charge(body('inv_1'), 'key_1');
    expect(second).not.to.deep.equal(first);
    expect(ledger.charge(body('inv_1'), 'key_1')).to.deep.equal(second);
    expect(ledger.entries({ reference: 'inv_1' }).map((e) => e.id)).to.deep.equal([(first.body as { id: string }).id, (second.body as { id: string }).id]);
    expect(ledger.getAccount('cus_1')!.balance).to.equal(400);
  });

  it('forgets an answer once it is forgetKeysAfterMs old, keeps it forever by default, and refuses a negative age', () => {
    let now = 1_000_000;
    const forgetful = new SandboxLedger({ forgetKeysAfterMs: 24 * 3600_000, now: () => now });
    forgetful.setAccount('cus_1', { balance: 1000, currency: 'EUR' });
    const first = forgetful.charge(body('inv_1'), 'key_1');
    now += 24 * 3600_000 - 1;
    expect(forgetful.charge(body('inv_1'), 'key_1')).to.deep.equal(first);
    now += 1;
    const again = forgetful.charge(body('inv_1'), 'key_1');
    expect(again).not.to.deep.equal(first);
    expect(forgetful.entries()).to.have.length(2);

    forgetful.forgetKeysAfter(undefined);
    now += 365 * 24 * 3600_000;
    expect(forgetful.charge(body('inv_1'), 'key_1')).to.deep.equal(again);
    // 0: nothing is remembered at all.
    forgetful.forgetKeysAfter(0);
    expect(forgetful.charge(body('inv_1'), 'key_1')).not.to.deep.equal(again);
    expect(forgetful.entries()).to.have.length(3);
    expect(() => forgetful.forgetKeysAfter(-1)).to.throw(RangeError);
    expect(() => new SandboxLedger({ forgetKeysAfterMs: Number.NaN })).to.throw(RangeError);
  });

  describe('refunds', () => {
    const refund = (chargeId: string, amount: number, reference = 'ord_1') => ({ chargeId, amount, reference });
    const chargeId = (answer: ReturnType<SandboxLedger['charge']>) => (answer.body as { id: string }).id;

    it('gives the money back to the balance once per key, in parts up to the charge', () => {
      const charge = chargeId(ledger.charge(body('ord_1', 300), 'key_1'));
      expect(ledger.getAccount('cus_1')!.balance).to.equal(700);
      const first = ledger.refund(refund(charge, 100), 'refund_1');
      expect(first.status).to.equal(200);
      expect(first.body).to.include({ refunded: true }).and.have.property('id').that.matches(/^re_/);
      expect(ledger.refund(refund(charge, 100), 'refund_1')).to.deep.equal(first);
      expect(ledger.getAccount('cus_1')!.balance).to.equal(800);
      expect(ledger.refund(refund(charge, 200), 'refund_2')).to.have.property('status', 200);
      expect(ledger.getAccount('cus_1')!.balance).to.equal(1000);
      const refunds = ledger.refunds();
      expect(refunds.map((r) => [r.idempotencyKey, r.chargeId, r.amount, r.currency, r.reference, r.customerId])).to.deep.equal([
        ['refund_1', charge, 100, 'EUR', 'ord_1', 'cus_1'],
        ['refund_2', charge, 200, 'EUR', 'ord_1', 'cus_1'],
      ]);
      expect(ledger.refunds({ reference: 'ord_9' })).to.deep.equal([]);
    });

    it('refuses an unknown charge, a decline and more than remains, and stores the refusal for the key', () => {
      const charge = chargeId(ledger.charge(body('ord_1', 300), 'key_1'));
      const declined = chargeId(ledger.charge(body('ord_2', 5000), 'key_2'));
      expect(ledger.refund(refund('ch_nope', 100), 'r1').body).to.deep.equal({ error: { code: 'charge_not_found', message: 'no charge ch_nope' } });
      expect(ledger.refund(refund('ch_nope', 100), 'r1').status).to.equal(404);
      const notCaptured = ledger.refund(refund(declined, 100), 'r2');
      expect(notCaptured.status).to.equal(409);
      expect(notCaptured.body).to.have.nested.property('error.code', 'charge_not_captured');
      ledger.refund(refund(charge, 250), 'r3');
      const exceeds = ledger.refund(refund(charge, 51), 'r4');
      expect(exceeds.status).to.equal(409);
      expect(exceeds.body).to.deep.equal({ error: { code: 'refund_exceeds_charge', message: `charge ${charge} has 50 of 300 left to refund, not 51` } });
      expect(ledger.refund(refund(charge, 50), 'r4')).to.deep.equal(exceeds);
      expect(ledger.refund(refund(charge, 50), 'r5').status).to.equal(200);
      expect(ledger.getAccount('cus_1')!.balance).to.equal(1000);
      expect(() => ledger.refund(refund(charge, 0), 'r6')).to.throw(RangeError);
      expect(ledger.refunds()).to.have.length(2);
    });

    it('shows each charge with what was refunded of it, oldest first, and leaves views already read as they were', () => {
      const charge = chargeId(ledger.charge(body('ord_1', 300), 'key_1'));
      const declined = chargeId(ledger.charge(body('ord_1', 5000), 'key_2'));
      const before = ledger.entries();
      expect(before.map((e) => [e.id, e.refunded, e.refunds])).to.deep.equal([
        [charge, 0, []],
        [declined, 0, []],
      ]);
      const first = ledger.refund(refund(charge, 100), 'refund_1');
      // Under its charge whatever reference the refund was made for.
      const second = ledger.refund(refund(charge, 50, 'ord_9'), 'refund_2');
      ledger.refund(refund(declined, 50), 'refund_3');

      const [refunded, notRefunded, ...rest] = ledger.entries({ reference: 'ord_1' });
      expect(rest).to.deep.equal([]);
      expect(refunded).to.include({ id: charge, idempotencyKey: 'key_1', amount: 300, charged: true, refunded: 150 });
      expect(refunded!.refunds).to.deep.equal(ledger.refunds().map(({ id, amount, createdAt }) => ({ id, amount, createdAt })));
      expect(refunded!.refunds.map((r) => r.id)).to.deep.equal([(first.body as { id: string }).id, (second.body as { id: string }).id]);
      expect(notRefunded).to.include({ id: declined, refunded: 0 });
      expect(notRefunded!.refunds).to.deep.equal([]);
      expect(ledger.entries()).to.deep.equal([refunded, notRefunded]);
      // What a reader was handed does not change under it, and cannot be changed by it.
      expect(before[0]).to.include({ refunded: 0 });
      expect(before[0]!.refunds).to.deep.equal([]);
      expect(Object.isFrozen(refunded!.refunds)).to.equal(true);
      expect(Object.isFrozen(refunded!.refunds[0])).to.equal(true);
      (refunded as { refunded: number }).refunded = 0;
      expect(ledger.entries()[0]).to.include({ refunded: 150 });
    });

    it('refunds again with a forgotten key, but never more than the charge', () => {
      const charge = chargeId(ledger.charge(body('ord_1', 300), 'key_1'));
      expect(ledger.refund(refund(charge, 300), 'refund_1').status).to.equal(200);
      ledger.forgetKeys();
      expect(ledger.refund(refund(charge, 300), 'refund_1').body).to.have.nested.property('error.code', 'refund_exceeds_charge');
      expect(ledger.getAccount('cus_1')!.balance).to.equal(1000);
    });
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

    it("reads the ledger for one reference as the provider's charges", async () => {
      const provider = sandboxProvider(ledger);
      const request = { customerId: 'cus_1', amountCents: 400, currency: 'EUR', reference: 'inv_1', idempotencyKey: 'key_1' };
      const first = await provider.charge(request);
      const declined = await provider.charge({ ...request, amountCents: 900, idempotencyKey: 'key_2' });
      await provider.charge({ ...request, reference: 'inv_2', idempotencyKey: 'key_3' });
      const charges = await provider.chargesFor('inv_1');
      expect(charges.map(({ createdAt, ...rest }) => rest)).to.deep.equal([
        { id: first.chargeId, reference: 'inv_1', amountCents: 400, currency: 'EUR', charged: true, refunds: [] },
        { id: declined.chargeId, reference: 'inv_1', amountCents: 900, currency: 'EUR', charged: false, refunds: [] },
      ]);
      expect(charges[0]!.createdAt).to.equal(ledger.entries()[0]!.createdAt);
      expect(await provider.chargesFor('inv_9')).to.deep.equal([]);
    });

    it('checks a balance, and throws CustomerNotFoundError for an account the ledger does not have', async () => {
      const provider = sandboxProvider(ledger);
      expect(await provider.account('cus_1')).to.deep.equal({ balanceCents: 1000, currency: 'EUR' });
      await provider.charge({ customerId: 'cus_1', amountCents: 400, currency: 'EUR', reference: 'inv_1', idempotencyKey: 'key_1' });
      expect(await provider.account('cus_1')).to.deep.equal({ balanceCents: 600, currency: 'EUR' });
      const notFound = await provider.account('cus_x').catch((err: unknown) => err);
      expect(notFound).to.be.instanceOf(CustomerNotFoundError).and.include({ customerId: 'cus_x' });
    });

    it('refunds once per key, maps refusals to RefundRefusedError by code as the HTTP provider does, and shows refunds in chargesFor', async () => {
      const provider = sandboxProvider(ledger);
      const charge = { customerId: 'cus_1', amountCents: 400, currency: 'EUR', reference: 'ord_1', idempotencyKey: 'key_1' };
      const charged = await provider.charge(charge);
      const declined = await provider.charge({ ...charge, amountCents: 900, idempotencyKey: 'key_2' });
      const request = { chargeId: charged.chargeId, amountCents: 400, reference: 'ord_1', idempotencyKey: 'refund_1' };
      const first = await provider.refund(request);
      expect(first).to.deep.equal({ refundId: ledger.refunds()[0]!.id, refunded: true });
      expect(await provider.refund({ ...request, amountCents: 1 })).to.deep.equal(first);
      expect(await provider.account('cus_1')).to.deep.equal({ balanceCents: 1000, currency: 'EUR' });

      const refused = (overrides: Partial<typeof request>) => provider.refund({ ...request, ...overrides }).catch((err: unknown) => err);
      const exceeds = await refused({ idempotencyKey: 'refund_2' });
      expect(exceeds).to.be.instanceOf(RefundRefusedError).and.include({ code: 'refund_exceeds_charge' });
      expect((exceeds as Error).message).to.equal(
        `payment provider refused the refund with refund_exceeds_charge: charge ${charged.chargeId} has 0 of 400 left to refund, not 400`,
      );
      expect(await refused({ chargeId: declined.chargeId, idempotencyKey: 'refund_3' })).to.be.instanceOf(RefundRefusedError).and.include({ code: 'charge_not_captured' });
      expect(await refused({ chargeId: 'ch_nope', idempotencyKey: 'refund_4' })).to.be.instanceOf(RefundRefusedError).and.include({ code: 'charge_not_found' });

      const [shown, decline] = await provider.chargesFor('ord_1');
      expect(shown!.refunds).to.deep.equal([{ id: first.refundId, amountCents: 400, createdAt: ledger.refunds()[0]!.createdAt }]);
      expect(decline!.refunds).to.deep.equal([]);
    });
  });
});
