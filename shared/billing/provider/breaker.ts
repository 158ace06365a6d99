// The payment provider behind a circuit breaker: an outage is probed with one trial call, not hammered by every charge job.
import { createBreaker } from '../../platform/circuit-breaker.js';
import type { Logger } from '../../platform/logger.js';
import { NetworkError, type PaymentProvider } from './provider.js';

export interface GuardedPaymentProvider extends PaymentProvider {
  readonly open: boolean;
  shutdown(): void;
}

/**
 * Every call of the provider goes through the one breaker: they share its servers, so an outage seen by one is an
 * outage for all. Only "no usable answer" counts against the provider: a refusal (unknown customer, a decline, a
 * refused refund, a key in use) is a healthy answer.
 */
export function withCircuitBreaker(provider: PaymentProvider, options: { resetMs: number; log: Logger }): GuardedPaymentProvider {
  const breaker = createBreaker({ dependency: 'payment provider', resetMs: options.resetMs, isOutage: (err) => err instanceof NetworkError, log: options.log });
  return {
    charge: (request) => breaker.run(() => provider.charge(request)),
    chargesFor: (reference) => breaker.run(() => provider.chargesFor(reference)),
    account: (customerId) => breaker.run(() => provider.account(customerId)),
    refund: (request) => breaker.run(() => provider.refund(request)),
    get open() {
      return breaker.open;
    },
    shutdown: () => breaker.shutdown(),
  };
}
