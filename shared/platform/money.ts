// Exact invoice arithmetic with big.js: line totals, a summary per VAT rate and document totals, in integer cents.
import { Big } from 'big.js';

export interface VatSummary {
  vatRate: string;
  natura: string | undefined;
  taxableCents: number;
  vatCents: number;
}

export interface InvoiceTotals {
  lineCents: number[];
  summaries: VatSummary[];
  taxableCents: number;
  vatCents: number;
  totalCents: number;
}

const ROUND_HALF_UP = 1;

const toCents = (amount: Big): number => Number(amount.times(100).round(0, ROUND_HALF_UP).toString());

/** Line total = quantity × unit price rounded to the cent; VAT is computed once per rate on the summed lines. */
export interface PricedLine {
  quantity: string;
  unitPrice: string;
  vatRate: string;
  natura?: string | null;
}

export function computeTotals(lines: PricedLine[]): InvoiceTotals {
  const lineCents = lines.map((l) => toCents(new Big(l.quantity).times(l.unitPrice)));
  const groups = new Map<string, VatSummary>();
  lines.forEach((line, i) => {
    const rate = new Big(line.vatRate).toFixed(2);
    const key = `${rate}|${line.natura ?? ''}`;
    const group = groups.get(key) ?? { vatRate: rate, natura: line.natura ?? undefined, taxableCents: 0, vatCents: 0 };
    group.taxableCents += lineCents[i] ?? 0;
    groups.set(key, group);
  });
  const summaries = [...groups.values()].map((g) => ({
    ...g,
    vatCents: toCents(new Big(g.taxableCents).div(100).times(g.vatRate).div(100)),
  }));
  const taxableCents = summaries.reduce((sum, s) => sum + s.taxableCents, 0);
  const vatCents = summaries.reduce((sum, s) => sum + s.vatCents, 0);
  return { lineCents, summaries, taxableCents, vatCents, totalCents: taxableCents + vatCents };
}

/** The largest amount FatturaPA can carry (11 integer digits, 2 decimals), in cents. */
export const MAX_AMOUNT_CENTS = 9_999_999_999_999;

/** Where the invoice's amounts overflow what FatturaPA can write: a line index, or 'total'. */
export function amountOverflow(totals: InvoiceTotals): number | 'total' | undefined {
  const line = totals.lineCents.findIndex((c) => Math.abs(c) > MAX_AMOUNT_CENTS);
  if (line >= 0) return line;
  const sums = [totals.totalCents, totals.taxableCents, totals.vatCents, ...totals.summaries.map((s) => s.taxableCents)];
  return sums.some((c) => Math.abs(c) > MAX_AMOUNT_CENTS) ? 'total' : undefined;
}

/** Formats cents as a decimal string with two places, e.g. 12345 → "123.45". */
export function formatCents(cents: number): string {
  return new Big(cents).div(100).toFixed(2);
}

/** An amount of money as the API takes it: a positive decimal with at most 2 places, as a JSON string or number. */
export const AMOUNT_PATTERN = /^\d{1,11}(\.\d{1,2})?$/;

/** "12.5" → 1250; the caller has checked AMOUNT_PATTERN. */
export function parseCents(amount: string): number {
  return Number(new Big(amount).times(100).toFixed(0));
}
