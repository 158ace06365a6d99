// The sandbox payment provider's books in memory: accounts, idempotent charges and their ledger, with no HTTP in the way.
import { randomUUID } from 'node:crypto';
import { CurrencyMismatchError, CustomerNotFoundError, type PaymentProvider } from '../../shared/billing/provider/provider.js';

export interface SandboxAccount {
  /** In minor units. */
  balance: number;
  /** ISO 4217, e.g. EUR. */
  currency: string;
}

/** The body of `POST /charges`. */
export interface ChargeBody {
  customerId: string;
  /** In minor units. */
  amount: number;
  currency: string;
  /** Our invoice, order or payment id. */
  reference: string;
}

/** What `POST /charges` answers; the first answer for a key is the answer for that key forever. */
export type ChargeAnswer =
  | { readonly status: 200; readonly body: { readonly id: string; readonly charged: boolean } }
  | { readonly status: 404; readonly body: { readonly error: string } }
  | { readonly status: 409; readonly body: { readonly error: string } };

export interface LedgerEntry {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly customerId: string;
  readonly amount: number;
  readonly currency: string;
  readonly reference: string;
  /** false: declined for the balance (the decline is on the ledger too, as at a real provider). */
  readonly charged: boolean;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** Outcomes forced on a share of new keys, to provoke paths a healthy account never takes. Each 0..1. */
export interface SandboxLedgerRates {
  /** Answer 404 although the account exists. @defaultValue 0 */
  unknownCustomer?: number;
  /** Answer 409 although the currency matches. @defaultValue 0 */
  currencyMismatch?: number;
  /** Decline (`charged: false`) although the balance allows it. @defaultValue 0 */
  insufficientBalance?: number;
}

export interface SandboxLedgerOptions {
  /** Forced outcomes; see {@link SandboxLedgerRates}. @defaultValue every rate 0 */
  rates?: SandboxLedgerRates;
  /**
   * Returns [0, 1). Drawn only for a rate above 0, in the order unknownCustomer, currencyMismatch,
   * insufficientBalance, and only while no earlier outcome has been decided, so a scripted sequence stays readable.
   * @defaultValue Math.random
   */
  random?: () => number;
}

export class SandboxLedger {
  private readonly accounts = new Map<string, SandboxAccount>();
  private readonly answers = new Map<string, ChargeAnswer>();
  private readonly ledger: LedgerEntry[] = [];
  private readonly byReference = new Map<string, LedgerEntry[]>();
  private readonly random: () => number;
  private rates: Required<SandboxLedgerRates> = { unknownCustomer: 0, currencyMismatch: 0, insufficientBalance: 0 };

  constructor(options: SandboxLedgerOptions = {}) {
    this.random = options.random ?? Math.random;
    this.setRates(options.rates ?? {});
  }

  /** Replaces every forced-outcome rate; a rate not given becomes 0. */
  setRates(rates: SandboxLedgerRates): void {
    this.rates = {
      unknownCustomer: rate(rates.unknownCustomer, 'unknownCustomer'),
      currencyMismatch: rate(rates.currencyMismatch, 'currencyMismatch'),
      insufficientBalance: rate(rates.insufficientBalance, 'insufficientBalance'),
    };
  }

  setAccount(customerId: string, account: SandboxAccount): void {
    if (!Number.isSafeInteger(account.balance)) throw new RangeError(`balance must be an integer in minor units, got ${account.balance}`);
    this.accounts.set(customerId, { balance: account.balance, currency: account.currency });
  }

  getAccount(customerId: string): SandboxAccount | undefined {
    const account = this.accounts.get(customerId);
    return account && { balance: account.balance, currency: account.currency };
  }

  /** Stripe-like: a key seen before gets its first answer back, whatever the body and the balances say now. */
  charge(body: ChargeBody, idempotencyKey: string): ChargeAnswer {
    const stored = this.answers.get(idempotencyKey);
    if (stored) return stored;
    if (!Number.isSafeInteger(body.amount) || body.amount <= 0) {
      throw new RangeError(`amount must be a positive integer in minor units, got ${body.amount}`);
    }
    const answer = deepFreeze(this.decide(body, idempotencyKey));
    this.answers.set(idempotencyKey, answer);
    return answer;
  }

  /** The ledger in the order charges were made, optionally only those for one reference. */
  entries(filter: { reference?: string } = {}): LedgerEntry[] {
    if (filter.reference === undefined) return this.ledger.slice();
    return this.byReference.get(filter.reference)?.slice() ?? [];
  }

  private decide(body: ChargeBody, idempotencyKey: string): ChargeAnswer {
    const account = this.accounts.get(body.customerId);
    if (!account || this.draw(this.rates.unknownCustomer)) {
      return { status: 404, body: { error: `no account for customer ${body.customerId}` } };
    }
    if (account.currency !== body.currency || this.draw(this.rates.currencyMismatch)) {
      return { status: 409, body: { error: `the account of customer ${body.customerId} is not in ${body.currency}` } };
    }
    const charged = account.balance >= body.amount && !this.draw(this.rates.insufficientBalance);
    if (charged) account.balance -= body.amount;
    const entry = this.record(body, idempotencyKey, charged);
    return { status: 200, body: { id: entry.id, charged } };
  }

  private draw(rate: number): boolean {
    return rate > 0 && this.random() < rate;
  }

  private record(body: ChargeBody, idempotencyKey: string, charged: boolean): LedgerEntry {
    const entry: LedgerEntry = Object.freeze({
      id: `ch_${randomUUID().replaceAll('-', '')}`,
      idempotencyKey,
      customerId: body.customerId,
      amount: body.amount,
      currency: body.currency,
      reference: body.reference,
      charged,
      createdAt: new Date().toISOString(),
    });
    this.ledger.push(entry);
    const forReference = this.byReference.get(entry.reference);
    if (forReference) forReference.push(entry);
    else this.byReference.set(entry.reference, [entry]);
    return entry;
  }
}

/** A zero-latency in-process provider over the ledger: measures our own overhead, with no HTTP in the numbers. */
export function sandboxProvider(ledger: SandboxLedger): PaymentProvider {
  return {
    async charge(request) {
      const { customerId, amountCents, currency, reference, idempotencyKey } = request;
      const answer = ledger.charge({ customerId, amount: amountCents, currency, reference }, idempotencyKey);
      switch (answer.status) {
        case 200:
          return { charged: answer.body.charged, chargeId: answer.body.id };
        case 404:
          throw new CustomerNotFoundError(customerId);
        case 409:
          throw new CurrencyMismatchError(customerId, currency);
      }
    },
  };
}

function rate(value: number | undefined, name: string): number {
  const r = value ?? 0;
  if (!(r >= 0 && r <= 1)) throw new RangeError(`${name} rate must be between 0 and 1, got ${value}`);
  return r;
}

// Stored answers are handed out again and again: freezing them keeps one caller from changing another's answer.
function deepFreeze(answer: ChargeAnswer): ChargeAnswer {
  Object.freeze(answer.body);
  return Object.freeze(answer);
}
