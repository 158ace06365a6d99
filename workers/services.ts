// What handlers reach beyond the database and queues, built once per worker process: the SdI mailer, the schemas, the payment provider.
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../shared/platform/config.js';
import { createSchemaValidator, type SchemaValidator } from '../shared/sdi/fatturapa/xsd.js';
import type { Logger } from '../shared/platform/logger.js';
import { createHttpPaymentProvider } from '../shared/billing/provider/http-provider.js';
import type { PaymentProvider } from '../shared/billing/provider/provider.js';
import { createSdiMailer, type SdiMailer } from '../shared/sdi/mailer.js';

export interface WorkerServices {
  mailer: SdiMailer;
  schemas: SchemaValidator;
  payments: PaymentProvider;
}

/** A mailer for a process that has no SMTP server: every send fails for good, saying why. */
const noSmtpMailer: SdiMailer = {
  open: false,
  async send() {
    throw new UnrecoverableError('SMTP_URL is not set: this process cannot mail the SdI');
  },
  close() {},
};

const noPaymentProvider: PaymentProvider = {
  async charge() {
    throw new UnrecoverableError('PAYMENT_PROVIDER_URL is not set: this process cannot charge');
  },
};

/** `given` replaces a service, e.g. an in-process payment provider in the benchmark. */
export function createWorkerServices(config: Config, log: Logger, given: Partial<WorkerServices> = {}): WorkerServices & { close(): void } {
  const mailer = given.mailer ?? (config.smtpUrl ? createSdiMailer(config, log.child({ component: 'sdi-mailer' })) : noSmtpMailer);
  const payments =
    given.payments ??
    (config.paymentProviderUrl ? createHttpPaymentProvider({ baseUrl: config.paymentProviderUrl, timeoutMs: config.paymentProviderTimeoutMs }) : noPaymentProvider);
  return {
    mailer,
    schemas: given.schemas ?? createSchemaValidator(),
    payments,
    close: () => mailer.close(),
  };
}
