// Mails SdI files: one message per file, its one attachment, sent through the SMTP sender and its circuit breaker.
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { createSmtpSender, type SendOptions, type SmtpAcceptance, type SmtpSender } from '../platform/smtp.js';

// What the SdI mailer always offered; the SMTP part now lives in shared/platform/smtp.ts.
export { isPermanentSmtpFailure, type SendOptions, type SmtpAcceptance } from '../platform/smtp.js';

export interface OutgoingSdiFile {
  fileName: string;
  xml: string;
}

export interface SdiMailer {
  /** Sends one message with the file as its one attachment; throws RetryableError or UnrecoverableError. */
  send(file: OutgoingSdiFile, options?: SendOptions): Promise<SmtpAcceptance>;
  /** Whether the breaker currently refuses to try. */
  readonly open: boolean;
  close(): void;
}

export type SdiMailerConfig = Pick<Config, 'smtpUrl' | 'smtpFrom' | 'smtpTimeoutMs' | 'smtpBreakerResetMs' | 'sdiAddress'>;

/**
 * The SdI mailer over a sender someone else owns (a worker process shares one sender, so one breaker, per SMTP
 * server): its `close` leaves the sender open for its owner to close.
 */
export function sdiMailerOn(smtp: SmtpSender, config: Pick<Config, 'smtpFrom' | 'sdiAddress'>): SdiMailer {
  const domain = config.smtpFrom.split('@')[1];
  return {
    get open() {
      return smtp.open;
    },
    send: (file, options) =>
      smtp.send(
        {
          from: config.smtpFrom,
          to: config.sdiAddress,
          subject: `Invio file ${file.fileName}`,
          text: `File FatturaPA ${file.fileName} in allegato.`,
          // The same Message-ID on every send of a file, so a duplicate can be recognised downstream.
          messageId: `<${file.fileName}@${domain}>`,
          attachments: [{ filename: file.fileName, content: file.xml, contentType: 'application/xml' }],
        },
        options,
      ),
    close() {},
  };
}

/** An SdI mailer with an SMTP sender of its own, closed with it. */
export function createSdiMailer(config: SdiMailerConfig, log: Logger): SdiMailer {
  if (!config.smtpUrl) throw new Error('SMTP_URL is not set: the sdi-send queue needs an SMTP server');
  const smtp = createSmtpSender(config, log);
  const mailer = sdiMailerOn(smtp, config);
  return {
    send: mailer.send,
    get open() {
      return smtp.open;
    },
    close: () => smtp.close(),
  };
}
