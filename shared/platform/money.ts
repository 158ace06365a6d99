// Exact invoice arithmetic: line totals, a summary per VAT rate and document totals, in integer cents (BigInt on the hot path, big.js for formatting).
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


/** A decimal string as an integer and its number of decimal places: "-6.50" → { units: -650n, places: 2 }. */
interface Scaled {
  units: bigint;
  places: number;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function scaled(value: string): Scaled {
  const match = DECIMAL.exec(value);
  if (!match) throw new Error(`not a plain decimal: ${JSON.stringify(value)}`);
  const [, sign, whole, fraction = ''] = match;
  const units = BigInt(whole! + fraction);
  return { units: sign ? -units : units, places: fraction.length };
}

const TEN = 10n;
const abs = (n: bigint) => (n < 0n ? -n : n);

/** `units` ÷ 10^`places`, rounded to `keep` places half away from zero (big.js's ROUND_HALF_UP), as an integer of those places. */
function roundTo({ units, places }: Scaled, keep: number): bigint {
  if (places <= keep) return units * TEN ** BigInt(keep - places);
  const divisor = TEN ** BigInt(places - keep);
  const quotient = units / divisor;
  const rest = abs(units % divisor);
  return rest * 2n >= divisor ? quotient + (units < 0n ? -1n : 1n) : quotient;
}

const times = (a: Scaled, b: Scaled): Scaled => ({ units: a.units * b.units, places: a.places + b.places });

/** A rate such as "22" or "5.5" as it is shown and grouped: two places, "22.00", "5.50". */
function rateKey(rate: Scaled): string {
  const hundredths = roundTo(rate, 2);
  const sign = hundredths < 0n ? '-' : '';
  const digits = abs(hundredths).toString().padStart(3, '0');
  return `${sign}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** Line total = quantity × unit price rounded to the cent; VAT is computed once per rate on the summed lines. */
export interface PricedLine {
  quantity: string;
  unitPrice: string;
  vatRate: string;
  natura?: string | null;
}

/**
 * The invoice's totals, exactly: decimals become integers (BigInt) scaled by their places, so no value passes
 * through floating point, and each rounding is half away from zero, as big.js's ROUND_HALF_UP (which this replaced
 * on the intake path, where it was the costliest step; a property test holds the two equal).
 */
export function computeTotals(lines: PricedLine[]): InvoiceTotals {
  const lineCents = lines.map((l) => Number(roundTo(times(scaled(l.quantity), scaled(l.unitPrice)), 2)));
  const groups = new Map<string, VatSummary & { rate: Scaled }>();
  lines.forEach((line, i) => {
    const rate = scaled(line.vatRate);
    const vatRate = rateKey(rate);
    const key = `${vatRate}|${line.natura ?? ''}`;
    const group = groups.get(key) ?? { vatRate, natura: line.natura ?? undefined, taxableCents: 0, vatCents: 0, rate };
    group.taxableCents += lineCents[i] ?? 0;
    groups.set(key, group);
  });
  // taxable (cents) × rate (percent) ÷ 100 = VAT in cents.
  const summaries = [...groups.values()].map(({ rate, ...g }) => ({
    ...g,
    vatCents: Number(roundTo({ units: BigInt(g.taxableCents) * rate.units, places: rate.places + 2 }, 0)),
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
