// One circuit breaker setting for every outside dependency (SMTP, the payment provider, the data providers): opossum, logged, failing fast with CircuitOpenError.
import CircuitBreaker from 'opossum';
import { CircuitOpenError, type CircuitWait } from './errors/circuit-open.js';
import type { Logger } from './logger.js';

export interface BreakerOptions {
  /** What the circuit guards, as logs and errors name it. */
  dependency: string;
  /** How long the circuit stays open before one trial call. */
  resetMs: number;
  /** Whether an error says the dependency is unwell; an answer that refuses one request (a bad message, an unknown customer) does not. */
  isOutage(err: unknown): boolean;
  /** What a job that meets the open circuit holds: its whole queue, or only itself. @defaultValue `queue` */
  waits?: CircuitWait;
  log: Logger;
}

export interface Breaker {
  /** Runs `call` unless the circuit is open; throws CircuitOpenError then, or whatever `call` threw. */
  run<T>(call: () => Promise<T>): Promise<T>;
  readonly open: boolean;
  /** Closes the circuit: a call made around it (a job's last attempt) got through. */
  close(): void;
  shutdown(): void;
}

export function createBreaker(options: BreakerOptions): Breaker {
  const { dependency, resetMs, log } = options;
  const breaker = new CircuitBreaker(<T>(call: () => Promise<T>) => call(), {
    timeout: false, // each call bounds its own time
    resetTimeout: resetMs,
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
    rollingCountTimeout: 60_000,
    // opossum's errorFilter: true means "not a failure".
    errorFilter: (err: unknown) => !options.isOutage(err),
  });
  breaker.on('open', () => log.warn({ dependency, resetMs }, `${dependency} circuit open: calls fail fast until a trial call succeeds`));
  breaker.on('halfOpen', () => log.info({ dependency }, `${dependency} circuit half-open: one trial call`));
  breaker.on('close', () => log.info({ dependency }, `${dependency} circuit closed`));
  return {
    async run<T>(call: () => Promise<T>): Promise<T> {
      try {
        return (await breaker.fire(call)) as T;
      } catch (err) {
        if ((err as { code?: string }).code === 'EOPENBREAKER') throw new CircuitOpenError(dependency, resetMs, options.waits);
        throw err;
      }
    },
    get open() {
      return breaker.opened;
    },
    close: () => breaker.close(),
    shutdown: () => breaker.shutdown(),
  };
}
