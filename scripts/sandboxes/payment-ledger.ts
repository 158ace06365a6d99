// The sandbox payment provider's books in memory: accounts, idempotent charges and refunds and their ledgers, with no HTTP in the way.
import { randomUUID } from 'node:crypto';
import {
  CurrencyMismatchError,
  CustomerNotFoundError,
  RefundRefusedError,
  type PaymentProvider,
  type ProviderCharge,
} from '../../shared/billing/provider/provider.js';

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

/** The body of `POST /refunds`. */
export interface RefundBody {
  /** The id a charge answered. */
  chargeId: string;
  /** In minor units, at most what remains unrefunded of the charge. */
  amount: number;
  /** Our order or payment id the refund is for. */
  reference: string;
}

/** Every error the sandbox answers is `{ error: { code, message } }`; `code` is what a client decides on. */
export interface ErrorBody<Code extends string = string> {
  readonly error: { readonly code: Code; readonly message: string };
}

/** What `POST /charges` answers; the first answer for a key is the answer for that key until the key is forgotten. */
export type ChargeAnswer =
  | { readonly status: 200; readonly body: { readonly id: string; readonly charged: boolean } }
  | { readonly status: 404; readonly body: ErrorBody<'customer_not_found'> }
  | { readonly status: 409; readonly body: ErrorBody<'currency_mismatch'> };

/** What `POST /refunds` answers; stored for its key like a charge's answer. */
export type RefundAnswer =
  | { readonly status: 200; readonly body: { readonly id: string; readonly refunded: boolean } }
  | { readonly status: 404; readonly body: ErrorBody<'charge_not_found'> }
  | { readonly status: 409; readonly body: ErrorBody<'charge_not_captured' | 'refund_exceeds_charge'> };

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

/** A refund as the ledger shows it under its charge (`GET /charges`), in the contract's fields. */
export interface ChargeRefund {
  /** The id the refund answered. */
  readonly id: string;
  /** In minor units. */
  readonly amount: number;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** A charge as `entries()` and `GET /charges` show it: the stored entry and what was refunded of it until now. */
export interface ChargeView extends LedgerEntry {
  /** In minor units: the sum of `refunds`; 0 without refunds, as for a decline. */
  readonly refunded: number;
  /** Its refunds, oldest first; empty without any. */
  readonly refunds: readonly ChargeRefund[];
}

/** What was refunded of one charge so far; replaced whole on each refund, so views can share it as it is. */
type Refunded = Pick<ChargeView, 'refunded' | 'refunds'>;

export interface RefundEntry {
  readonly id: string;
  readonly idempotencyKey: string;
  /** The refunded charge. */
  readonly chargeId: string;
  readonly customerId: string;
  readonly amount: number;
  readonly currency: string;
  readonly reference: string;
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
  /**
   * A key's stored answer is forgotten once it is this old (ms), and the key then charges or refunds again, as Stripe
   * does after 24 hours; 0 forgets every answer at once. The ledgers themselves are never forgotten.
   * @defaultValue undefined: answers are kept forever
   */
  forgetKeysAfterMs?: number;
  /** The clock the age of stored answers is measured with, in ms. @defaultValue Date.now */
  now?: () => number;
}

interface Stored<A> {
  readonly answer: A;
  /** `now()` when the answer was stored. */
  readonly at: number;
}

export class SandboxLedger {
  private readonly accounts = new Map<string, SandboxAccount>();
  // Insertion order is storage order (a forgotten key is deleted before it is stored again): the oldest answers come first.
  private readonly answers = new Map<string, Stored<ChargeAnswer>>();
  private readonly refundAnswers = new Map<string, Stored<RefundAnswer>>();
  private readonly ledger: LedgerEntry[] = [];
  private readonly byReference = new Map<string, LedgerEntry[]>();
  private readonly byId = new Map<string, LedgerEntry>();
  private readonly refundLedger: RefundEntry[] = [];
  /** What was refunded of each charge, by charge id; only charges with a refund are in it. */
  private readonly refundedOf = new Map<string, Refunded>();
  private readonly random: () => number;
  private readonly now: () => number;
  private forgetAfterMs: number | undefined;
  private rates: Required<SandboxLedgerRates> = { unknownCustomer: 0, currencyMismatch: 0, insufficientBalance: 0 };

  constructor(options: SandboxLedgerOptions = {}) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.setRates(options.rates ?? {});
    this.forgetKeysAfter(options.forgetKeysAfterMs);
  }

  /** Replaces every forced-outcome rate; a rate not given becomes 0. */
  setRates(rates: SandboxLedgerRates): void {
    this.rates = {
      unknownCustomer: rate(rates.unknownCustomer, 'unknownCustomer'),
      currencyMismatch: rate(rates.currencyMismatch, 'currencyMismatch'),
      insufficientBalance: rate(rates.insufficientBalance, 'insufficientBalance'),
    };
  }

  /** From now on a stored answer is forgotten once it is `ms` old; undefined keeps answers forever. */
  forgetKeysAfter(ms: number | undefined): void {
    if (ms !== undefined && !(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`forgetKeysAfterMs must be a number of ms ≥ 0, got ${ms}`);
    this.forgetAfterMs = ms;
  }

  /** Forgets every stored answer at once ("24 hours later"): each key charges or refunds again. The ledgers stay. */
  forgetKeys(): void {
    this.answers.clear();
    this.refundAnswers.clear();
  }

  /** Whether the key has a stored charge answer that is not forgotten. */
  hasChargeAnswer(idempotencyKey: string): boolean {
    return this.recall(this.answers, idempotencyKey) !== undefined;
  }

  /** Whether the key has a stored refund answer that is not forgotten. */
  hasRefundAnswer(idempotencyKey: string): boolean {
    return this.recall(this.refundAnswers, idempotencyKey) !== undefined;
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
    const stored = this.recall(this.answers, idempotencyKey);
    if (stored) return stored;
    if (!Number.isSafeInteger(body.amount) || body.amount <= 0) {
      throw new RangeError(`amount must be a positive integer in minor units, got ${body.amount}`);
    }
    return this.store(this.answers, idempotencyKey, this.decide(body, idempotencyKey));
  }

  /**
   * Gives back (part of) a charge to the account's balance; a key seen before gets its first answer back. Refused:
   * an unknown charge (404 charge_not_found), a decline (409 charge_not_captured), more than remains unrefunded of the
   * charge (409 refund_exceeds_charge).
   */
  refund(body: RefundBody, idempotencyKey: string): RefundAnswer {
    const stored = this.recall(this.refundAnswers, idempotencyKey);
    if (stored) return stored;
    if (!Number.isSafeInteger(body.amount) || body.amount <= 0) {
      throw new RangeError(`amount must be a positive integer in minor units, got ${body.amount}`);
    }
    return this.store(this.refundAnswers, idempotencyKey, this.decideRefund(body, idempotencyKey));
  }

  /**
   * The ledger in the order charges were made, optionally only those for one reference, each with what was refunded
   * of it so far. The views are made here, at read time: a charge stays one frozen entry written once, so charging
   * costs no more for refunds, and a read costs one lookup and one small object per charge.
   */
  entries(filter: { reference?: string } = {}): ChargeView[] {
    const entries = filter.reference === undefined ? this.ledger : (this.byReference.get(filter.reference) ?? []);
    // Not frozen: each call makes its own views; what they share (the entries' fields, the refund lists) is frozen.
    // Field by field rather than spread: about five times cheaper on 100k entries, and a field added to LedgerEntry
    // and left out here fails the typecheck, as the view must have them all.
    return entries.map((e): ChargeView => {
      const { refunded, refunds } = this.refundedOf.get(e.id) ?? NOT_REFUNDED;
      const { id, idempotencyKey, customerId, amount, currency, reference, charged, createdAt } = e;
      return { id, idempotencyKey, customerId, amount, currency, reference, charged, createdAt, refunded, refunds };
    });
  }

  /** The refunds in the order they were made, optionally only those for one reference. */
  refunds(filter: { reference?: string } = {}): RefundEntry[] {
    const { reference } = filter;
    return reference === undefined ? this.refundLedger.slice() : this.refundLedger.filter((r) => r.reference === reference);
  }

  private decide(body: ChargeBody, idempotencyKey: string): ChargeAnswer {
    const account = this.accounts.get(body.customerId);
    if (!account || this.draw(this.rates.unknownCustomer)) {
      return { status: 404, body: errorBody('customer_not_found', `no account for customer ${body.customerId}`) };
    }
    if (account.currency !== body.currency || this.draw(this.rates.currencyMismatch)) {
      return { status: 409, body: errorBody('currency_mismatch', `the account of customer ${body.customerId} is not in ${body.currency}`) };
    }
    const charged = account.balance >= body.amount && !this.draw(this.rates.insufficientBalance);
    if (charged) account.balance -= body.amount;
    const entry = this.record(body, idempotencyKey, charged);
    return { status: 200, body: { id: entry.id, charged } };
  }

  private decideRefund(body: RefundBody, idempotencyKey: string): RefundAnswer {
    const charge = this.byId.get(body.chargeId);
    if (!charge) return { status: 404, body: errorBody('charge_not_found', `no charge ${body.chargeId}`) };
    if (!charge.charged) {
      return { status: 409, body: errorBody('charge_not_captured', `charge ${body.chargeId} was declined: there is nothing to refund`) };
    }
    const { refunded, refunds } = this.refundedOf.get(charge.id) ?? NOT_REFUNDED;
    const remaining = charge.amount - refunded;
    if (body.amount > remaining) {
      return {
        status: 409,
        body: errorBody('refund_exceeds_charge', `charge ${charge.id} has ${remaining} of ${charge.amount} left to refund, not ${body.amount}`),
      };
    }
    // The account exists: a charge was made on it, and accounts are never closed.
    this.accounts.get(charge.customerId)!.balance += body.amount;
    const entry: RefundEntry = Object.freeze({
      id: `re_${randomUUID().replaceAll('-', '')}`,
      idempotencyKey,
      chargeId: charge.id,
      customerId: charge.customerId,
      amount: body.amount,
      currency: charge.currency,
      reference: body.reference,
      createdAt: new Date(this.now()).toISOString(),
    });
    this.refundLedger.push(entry);
    // A new frozen list rather than a push: views already handed out keep the list they were given.
    const shown: ChargeRefund = Object.freeze({ id: entry.id, amount: entry.amount, createdAt: entry.createdAt });
    this.refundedOf.set(charge.id, Object.freeze({ refunded: refunded + body.amount, refunds: Object.freeze([...refunds, shown]) }));
    return { status: 200, body: { id: entry.id, refunded: true } };
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
      createdAt: new Date(this.now()).toISOString(),
    });
    this.ledger.push(entry);
    this.byId.set(entry.id, entry);
    const forReference = this.byReference.get(entry.reference);
    if (forReference) forReference.push(entry);
    else this.byReference.set(entry.reference, [entry]);
    return entry;
  }

  /** The key's stored answer unless it is forgotten; forgotten ones are dropped from the oldest on, so memory stays bounded. */
  private recall<A>(answers: Map<string, Stored<A>>, idempotencyKey: string): A | undefined {
    const stored = answers.get(idempotencyKey);
    if (this.forgetAfterMs === undefined) return stored?.answer;
    const oldest = this.now() - this.forgetAfterMs;
    for (const [key, { at }] of answers) {
      if (at > oldest) break;
      answers.delete(key);
    }
    // Checked on its own too: a clock that stepped back leaves the map out of order, and the sweep above stops early.
    if (!stored || stored.at <= oldest) return undefined;
    return stored.answer;
  }

  private store<A extends ChargeAnswer | RefundAnswer>(answers: Map<string, Stored<A>>, idempotencyKey: string, answer: A): A {
    // Stored answers are handed out again and again: freezing them keeps one caller from changing another's answer.
    Object.freeze(answer.body);
    Object.freeze(answer);
    answers.delete(idempotencyKey);
    answers.set(idempotencyKey, { answer, at: this.now() });
    return answer;
  }
}

/** What an entry without a refund shows: shared, as nothing can change it. */
const NOT_REFUNDED: Refunded = Object.freeze({ refunded: 0, refunds: Object.freeze([]) });

/** A zero-latency in-process provider over the ledger: measures our own overhead, with no HTTP in the numbers. */
export function sandboxProvider(ledger: SandboxLedger): PaymentProvider {
  return {
    async charge(request) {
      const { customerId, amountCents, currency, reference, idempotencyKey } = request;
      const answer = ledger.charge({ customerId, amount: amountCents, currency, reference }, idempotencyKey);
      if (answer.status === 200) return { charged: answer.body.charged, chargeId: answer.body.id };
      // By the code, as the HTTP provider does. No request is ever in flight here (the ledger answers at once), so
      // there is no idempotency_key_in_use to map.
      switch (answer.body.error.code) {
        case 'customer_not_found':
          throw new CustomerNotFoundError(customerId);
        case 'currency_mismatch':
          throw new CurrencyMismatchError(customerId, currency);
      }
    },
    async chargesFor(reference) {
      return ledger.entries({ reference }).map(
        ({ id, amount, currency, charged, createdAt, refunds }): ProviderCharge => ({
          id,
          reference,
          amountCents: amount,
          currency,
          charged,
          createdAt,
          refunds: refunds.map((r) => ({ id: r.id, amountCents: r.amount, createdAt: r.createdAt })),
        }),
      );
    },
    async account(customerId) {
      const account = ledger.getAccount(customerId);
      if (!account) throw new CustomerNotFoundError(customerId);
      return { balanceCents: account.balance, currency: account.currency };
    },
    async refund(request) {
      const { chargeId, amountCents, reference, idempotencyKey } = request;
      const answer = ledger.refund({ chargeId, amount: amountCents, reference }, idempotencyKey);
      if (answer.status === 200) return { refundId: answer.body.id, refunded: answer.body.refunded };
      // Every refusal the ledger answers is one the HTTP provider reads as RefundRefusedError, by the same code.
      throw new RefundRefusedError(answer.body.error.code, answer.body.error.message);
    },
  };
}

function errorBody<Code extends string>(code: Code, message: string): ErrorBody<Code> {
  return { error: Object.freeze({ code, message }) };
}

function rate(value: number | undefined, name: string): number {
  const r = value ?? 0;
  if (!(r >= 0 && r <= 1)) throw new RangeError(`${name} rate must be between 0 and 1, got ${value}`);
  return r;
}
