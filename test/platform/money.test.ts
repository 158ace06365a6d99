// Invoice arithmetic is exact: no floating point, VAT per rate rounded half up.
import { expect } from 'chai';
import { computeTotals, formatCents } from '../../shared/platform/money.js';

describe('invoice amounts', () => {
  it('adds decimals exactly where floating point would not', () => {
    const totals = computeTotals([
      { quantity: '3', unitPrice: '0.10', vatRate: '22', natura: undefined },
      { quantity: '1', unitPrice: '0.20', vatRate: '22', natura: undefined },
    ]);
    expect(totals.lineCents).to.deep.equal([30, 20]);
    expect(totals.taxableCents).to.equal(50);
    expect(totals.vatCents).to.equal(11); // 0.11
    expect(totals.totalCents).to.equal(61);
  });

  it('groups by rate and nature, computing VAT once per group, rounded half up', () => {
    const totals = computeTotals([
      { quantity: '1', unitPrice: '10.25', vatRate: '22', natura: undefined },
      { quantity: '2', unitPrice: '5.125', vatRate: '10', natura: undefined },
      { quantity: '1', unitPrice: '2.00', vatRate: '0', natura: 'N1' },
      { quantity: '1', unitPrice: '0.10', vatRate: '22.00', natura: undefined },
    ]);
    expect(totals.summaries).to.deep.equal([
      { vatRate: '22.00', natura: undefined, taxableCents: 1035, vatCents: 228 }, // 2.277 → 2.28
      { vatRate: '10.00', natura: undefined, taxableCents: 1025, vatCents: 103 }, // 1.025 → 1.03
      { vatRate: '0.00', natura: 'N1', taxableCents: 200, vatCents: 0 },
    ]);
    expect(totals.totalCents).to.equal(1035 + 228 + 1025 + 103 + 200);
  });

  it('rounds line totals with many decimals to the cent', () => {
    expect(computeTotals([{ quantity: '3.333', unitPrice: '1.00000001', vatRate: '22', natura: undefined }]).lineCents).to.deep.equal([333]);
  });

  it('formats cents with two decimals', () => {
    expect(formatCents(0)).to.equal('0.00');
    expect(formatCents(12345)).to.equal('123.45');
    expect(formatCents(-5)).to.equal('-0.05');
  });
});
