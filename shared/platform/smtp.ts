// Sends any message through the SMTP server at SMTP_URL behind one circuit breaker, and sorts its failures into retry or stop.
import { UnrecoverableError } from 'bullmq';
import { createTransport, type SendMailOptions } from 'nodemailer';
import { createBreaker } from './circuit-breaker.js';
import type { Config } from './config.js';
import { CircuitOpenError } from './errors/circuit-open.js';
import { RetryableError } from './errors/retryable.js';
import type { Logger } from './logger.js';

export interface SmtpAcceptance {
  messageId: string;
  /** The server's last answer, e.g. `250 2.0.0 Ok: queued as 4F2A…`. */
  response: string;
}

export interface SendOptions {
  /**
   * The job's last attempt: try the server even while the breaker is open, so nothing is given up (and no retry from
   * the DLQ fails) without one real try. Bounded by the queue's concurrency, so still not a hammering.
   */
  finalAttempt?: boolean;
}

export interface SmtpSender {
  /** Sends one message; throws RetryableError (CircuitOpenError while the breaker is open) or UnrecoverableError. */
  send(message: SendMailOptions, options?: SendOptions): Promise<SmtpAcceptance>;
  /** Whether the breaker currently refuses to try. */
  readonly open: boolean;
  close(): void;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
}

/** A 5xx answer is the server refusing this message for good; anything else (4xx, no answer) may pass later. */
export const isPermanentSmtpFailure = (err: SmtpError): boolean => (err.responseCode ?? 0) >= 500;

export type SmtpConfig = Pick<Config, 'smtpUrl' | 'smtpTimeoutMs' | 'smtpBreakerResetMs'>;

export function createSmtpSender(config: SmtpConfig, log: Logger): SmtpSender {
  if (!config.smtpUrl) throw new Error('SMTP_URL is not set: sending mail needs an SMTP server');
  const transport = createTransport({
    url: config.smtpUrl,
    connectionTimeout: config.smtpTimeoutMs,
    greetingTimeout: config.smtpTimeoutMs,
    socketTimeout: config.smtpTimeoutMs,
  });
  const deliver = (message: SendMailOptions) => transport.sendMail(message);

  // A refused message says nothing about the server's health; no answer, or a 4xx, does.
  const breaker = createBreaker({ dependency: 'SMTP', resetMs: config.smtpBreakerResetMs, isOutage: (err) => !isPermanentSmtpFailure(err as SmtpError), log });

  return {
    get open() {
      return breaker.open;
    },
    async send(message, options = {}) {
      try {
        const bypass = options.finalAttempt && breaker.open;
        const info = bypass ? await deliver(message) : await breaker.run(() => deliver(message));
        // A final attempt that got through is the news the breaker was waiting for.
        if (bypass) breaker.close();
        return { messageId: info.messageId, response: info.response };
      } catch (err) {
        if (err instanceof CircuitOpenError) throw err;
        const error = err as SmtpError;
        if (isPermanentSmtpFailure(error)) throw new UnrecoverableError(`SMTP server refused the message: ${error.message}`);
        throw new RetryableError(`SMTP send failed: ${error.message}`);
      }
    },
    close() {
      breaker.shutdown();
      transport.close();
    },
  };
}
