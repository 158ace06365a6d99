// Mails SdI files through nodemailer behind a circuit breaker, so an SMTP outage is probed, not hammered.
import { UnrecoverableError } from 'bullmq';
import { createTransport } from 'nodemailer';
import { createBreaker } from '../platform/circuit-breaker.js';
import type { Config } from '../platform/config.js';
import { CircuitOpenError } from '../platform/errors/circuit-open.js';
import { RetryableError } from '../platform/errors/retryable.js';
import type { Logger } from '../platform/logger.js';

export interface OutgoingSdiFile {
  fileName: string;
  xml: string;
}

export interface SmtpAcceptance {
  messageId: string;
  /** The server's last answer, e.g. `250 2.0.0 Ok: queued as 4F2A…`. */
  response: string;
}

export interface SendOptions {
  /**
   * The job's last attempt: try the server even while the breaker is open, so no invoice ends NOT_SENT (and no
   * retry from the DLQ fails) without one real try. Bounded by the queue's concurrency, so still not a hammering.
   */
  finalAttempt?: boolean;
}

export interface SdiMailer {
  /** Sends one message with the file as its one attachment; throws RetryableError or UnrecoverableError. */
  send(file: OutgoingSdiFile, options?: SendOptions): Promise<SmtpAcceptance>;
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

export type SdiMailerConfig = Pick<Config, 'smtpUrl' | 'smtpFrom' | 'smtpTimeoutMs' | 'smtpBreakerResetMs' | 'sdiAddress'>;

export function createSdiMailer(config: SdiMailerConfig, log: Logger): SdiMailer {
  if (!config.smtpUrl) throw new Error('SMTP_URL is not set: the sdi-send queue needs an SMTP server');
  const transport = createTransport({
    url: config.smtpUrl,
    connectionTimeout: config.smtpTimeoutMs,
    greetingTimeout: config.smtpTimeoutMs,
    socketTimeout: config.smtpTimeoutMs,
  });
  const domain = config.smtpFrom.split('@')[1];

  const deliver = (file: OutgoingSdiFile) =>
    transport.sendMail({
      from: config.smtpFrom,
      to: config.sdiAddress,
      subject: `Invio file ${file.fileName}`,
      text: `File FatturaPA ${file.fileName} in allegato.`,
      // The same Message-ID on every send of a file, so a duplicate can be recognised downstream.
      messageId: `<${file.fileName}@${domain}>`,
      attachments: [{ filename: file.fileName, content: file.xml, contentType: 'application/xml' }],
    });

  // A refused message says nothing about the server's health; no answer, or a 4xx, does.
  const breaker = createBreaker({ dependency: 'SMTP', resetMs: config.smtpBreakerResetMs, isOutage: (err) => !isPermanentSmtpFailure(err as SmtpError), log });

  return {
    get open() {
      return breaker.open;
    },
    async send(file, options = {}) {
      try {
        const bypass = options.finalAttempt && breaker.open;
        const info = bypass ? await deliver(file) : await breaker.run(() => deliver(file));
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
