// The data providers of one worker process, each behind its own circuit breaker: a provider that is down is probed, not hammered, and the other goes on.
import { createBreaker, type Breaker } from '../platform/circuit-breaker.js';
import type { Logger } from '../platform/logger.js';
import { ProviderRefusedError, ProviderUnavailableError, type DataProvider } from './provider.js';
import { PROVIDERS, type Provider } from './status.js';

export interface DataProviders {
  /**
   * Runs `call` with the provider's client, unless its circuit is open: then CircuitOpenError, and `call` never runs
   * (so a collection that meets an open circuit has made no attempt). Only "no usable answer" counts against a
   * provider; an answer refused as not JSON or too large is a healthy provider and a problem of ours.
   */
  call<T>(provider: Provider, call: (client: DataProvider) => Promise<T>): Promise<T>;
  shutdown(): void;
}

export interface DataProvidersOptions {
  /** Each provider's client; a provider without one fails its collections at once, saying which variable is unset. */
  clients: Partial<Record<Provider, DataProvider>>;
  /** How long a circuit stays open before one trial call (COLLECT_BREAKER_RESET_MS). */
  resetMs: number;
  log: Logger;
}

const URL_VARIABLE: Record<Provider, string> = { gas: 'GAS_PROVIDER_URL', internet: 'INTERNET_PROVIDER_URL' };

export function createDataProviders({ clients, resetMs, log }: DataProvidersOptions): DataProviders {
  const breakers = new Map<Provider, Breaker>(
    PROVIDERS.map((provider) => [
      provider,
      createBreaker({
        dependency: `${provider} provider`,
        resetMs,
        isOutage: (err) => err instanceof ProviderUnavailableError,
        // One queue serves both providers: a gas outage holds gas collections only.
        waits: 'job',
        log: log.child({ provider }),
      }),
    ]),
  );
  return {
    call(provider, call) {
      const client = clients[provider];
      if (!client) return Promise.reject(new ProviderRefusedError(`${URL_VARIABLE[provider]} is not set: this worker cannot reach the ${provider} provider`, null));
      return breakers.get(provider)!.run(() => call(client));
    },
    shutdown() {
      for (const breaker of breakers.values()) breaker.shutdown();
    },
  };
}
