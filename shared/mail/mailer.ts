// Mails a rendered notice to a customer from MAIL_FROM, through the SMTP sender and its circuit breaker.
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { createSmtpSender, type SendOptions, type SmtpAcceptance, type SmtpSender } from '../platform/smtp.js';

/** A mail ready to go: its recorded id, the customer's address, and the rendered words. */
export interface OutgoingMail {
  id: string;
  to: string;
  subject: string;
  text: string;
}

export interface CustomerMailer {
  /** Sends one plain-text mail; throws RetryableError (CircuitOpenError while the breaker is open) or UnrecoverableError. */
  send(mail: OutgoingMail, options?: SendOptions): Promise<SmtpAcceptance>;
  /** Whether the breaker currently refuses to try. */
  readonly open: boolean;
  close(): void;
}

export type CustomerMailerConfig = Pick<Config, 'smtpUrl' | 'smtpTimeoutMs' | 'smtpBreakerResetMs' | 'mailFrom'>;

/**
 * The stable Message-ID of a mail: a second delivery of it (a worker lost after the server took it and before the
 * database heard) carries the same one, so a mail system or a reader can tell it is the same message.
 */
export function mailMessageId(mailId: string, mailFrom: string): string {
  return `<mail-${mailId}@${mailFrom.split('@')[1]}>`;
}

/** The customer mailer over a sender someone else owns: its `close` leaves the sender open for its owner to close. */
export function customerMailerOn(smtp: SmtpSender, config: Pick<Config, 'mailFrom'>): CustomerMailer {
  return {
    get open() {
      return smtp.open;
    },
    send: (mail, options) =>
      smtp.send({ from: config.mailFrom, to: mail.to, subject: mail.subject, text: mail.text, messageId: mailMessageId(mail.id, config.mailFrom) }, options),
    close() {},
  };
}

/** A customer mailer with an SMTP sender of its own, closed with it. */
export function createCustomerMailer(config: CustomerMailerConfig, log: Logger): CustomerMailer {
  if (!config.smtpUrl) throw new Error('SMTP_URL is not set: the mail queue needs an SMTP server');
  const smtp = createSmtpSender(config, log);
  const mailer = customerMailerOn(smtp, config);
  return {
    send: mailer.send,
    get open() {
      return smtp.open;
    },
    close: () => smtp.close(),
  };
}
