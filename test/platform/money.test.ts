// Invoice arithmetic is exact: no floating point, VAT per rate rounded half up.
import { Big } from 'big.js';
import { expect } from 'chai';
import fc from 'fast-check';
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

/** The big.js computation computeTotals replaced, kept as the oracle it must agree with. */
function totalsByBigJs(lines: { quantity: string; unitPrice: string; vatRate: string; natura?: string }[]) {
  const toCents = (amount: Big) => Number(amount.times(100).round(0, 1).toString());
  const lineCents = lines.map((l) => toCents(new Big(l.quantity).times(l.unitPrice)));
  const groups = new Map<string, { vatRate: string; natura: string | undefined; taxableCents: number; vatCents: number }>();
  lines.forEach((line, i) => {
    const rate = new Big(line.vatRate).toFixed(2);
    const key = `${rate}|${line.natura ?? ''}`;
    const group = groups.get(key) ?? { vatRate: rate, natura: line.natura ?? undefined, taxableCents: 0, vatCents: 0 };
    group.taxableCents += lineCents[i]!;
    groups.set(key, group);
  });
  const summaries = [...groups.values()].map((g) => ({ ...g, vatCents: toCents(new Big(g.taxableCents).div(100).times(g.vatRate).div(100)) }));
  const taxableCents = summaries.reduce((sum, s) => sum + s.taxableCents, 0);
  const vatCents = summaries.reduce((sum, s) => sum + s.vatCents, 0);
  return { lineCents, summaries, taxableCents, vatCents, totalCents: taxableCents + vatCents };
}

describe('invoice amounts, on generated invoices', () => {
  /** A decimal string as intake accepts it: `digits` integer digits, up to `places` decimals, maybe negative. */
  const decimal = (digits: number, places: number, negative: boolean) =>
    fc
      .tuple(fc.boolean(), fc.stringMatching(new RegExp(`^\\d{1,${digits}}$`)), fc.stringMatching(new RegExp(`^\\d{0,${places}}$`)))
      .map(([minus, whole, fraction]) => `${negative && minus ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`);
  const line = fc.record({
    quantity: decimal(6, 8, false),
    unitPrice: decimal(7, 8, true),
    vatRate: fc.oneof(fc.constantFrom('0', '4', '5', '10', '22', '22.00', '5.5'), decimal(2, 2, false)),
    natura: fc.option(fc.constantFrom('N1', 'N2.1', 'N4'), { nil: undefined }),
  });

  it('computes exactly what big.js computes, roundings included', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 12 }), (lines) => {
        expect(computeTotals(lines)).to.deep.equal(totalsByBigJs(lines));
      }),
      { numRuns: 2000 },
    );
  });

  it('rounds half away from zero at exactly half a cent, on either side of zero', () => {
    for (const lines of [[{ quantity: '1', unitPrice: '0.005', vatRate: '0' }], [{ quantity: '1', unitPrice: '-0.005', vatRate: '0' }], [{ quantity: '3', unitPrice: '0.0050', vatRate: '10' }]]) {
      expect(computeTotals(lines)).to.deep.equal(totalsByBigJs(lines));
    }
  });
});
