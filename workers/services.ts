// What handlers reach beyond the database and queues, built once per worker process: the SdI mailer and the schemas.
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../shared/config.js';
import { createSchemaValidator, type SchemaValidator } from '../shared/fatturapa/schema.js';
import type { Logger } from '../shared/logger.js';
import { createSdiMailer, type SdiMailer } from '../shared/sdi-mailer.js';

export interface WorkerServices {
  mailer: SdiMailer;
  schemas: SchemaValidator;
}

/** A mailer for a process that has no SMTP server: every send fails for good, saying why. */
const noSmtpMailer: SdiMailer = {
  open: false,
  async send() {
    throw new UnrecoverableError('SMTP_URL is not set: this process cannot mail the SdI');
  },
  close() {},
};

export function createWorkerServices(config: Config, log: Logger): WorkerServices & { close(): void } {
  const mailer = config.smtpUrl ? createSdiMailer(config, log.child({ component: 'sdi-mailer' })) : noSmtpMailer;
  return {
    mailer,
    schemas: createSchemaValidator(),
    close: () => mailer.close(),
  };
}
