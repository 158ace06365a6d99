// What handlers reach beyond the database and queues, built once per worker process: the SdI and customer mailers over one SMTP sender, the payment provider, the batched invoice charges, the fulfilment service, the data providers; and the process's XSD validator.
import { UnrecoverableError } from 'bullmq';
import type { AppContext } from '../queues/context.js';
import { createInvoiceCharges, type InvoiceCharges } from '../shared/billing/invoice-charges.js';
import { withCircuitBreaker } from '../shared/billing/provider/breaker.js';
import { createHttpPaymentProvider } from '../shared/billing/provider/http-provider.js';
import type { PaymentProvider } from '../shared/billing/provider/provider.js';
import { createHttpDataProvider } from '../shared/collections/provider-http.js';
import { createDataProviders, type DataProviders } from '../shared/collections/providers.js';
import { customerMailerOn, type CustomerMailer } from '../shared/mail/mailer.js';
import type { FulfilmentService } from '../shared/orders/fulfilment.js';
import { createHttpFulfilmentService } from '../shared/orders/fulfilment-http.js';
import { createSmtpSender } from '../shared/platform/smtp.js';
import type { XsdValidator } from '../shared/sdi/fatturapa/xsd.js';
import { sdiMailerOn, type SdiMailer } from '../shared/sdi/mailer.js';

export interface WorkerServices {
  mailer: SdiMailer;
  xsd: XsdValidator;
  payments: PaymentProvider;
  invoiceCharges: InvoiceCharges;
  /** The order fulfilment service at FULFILMENT_URL. */
  fulfilment: FulfilmentService;
  /** Mails customers (the order-failed notice) from MAIL_FROM through SMTP_URL, sharing the SdI mailer's circuit breaker. */
  customerMailer: CustomerMailer;
  /** The gas and internet providers at GAS_PROVIDER_URL and INTERNET_PROVIDER_URL, each behind its own circuit breaker. */
  dataProviders: DataProviders;
  /** Where a handler that draws its own retry wait (collect) draws the jitter: Math.random; a test pins it to read the schedule. */
  random: () => number;
}

/** A mailer for a process that has no SMTP server: every send fails for good, saying why. */
const noSmtpMailer: SdiMailer = {
  open: false,
  async send() {
    throw new UnrecoverableError('SMTP_URL is not set: this process cannot mail the SdI');
  },
  close() {},
};

/** The customer mailer of a process that has no SMTP server: every send fails for good, saying why. */
const noSmtpCustomerMailer: CustomerMailer = {
  open: false,
  async send() {
    throw new UnrecoverableError('SMTP_URL is not set: this process cannot mail customers');
  },
  close() {},
};

const noPaymentProvider: PaymentProvider = {
  async charge() {
    throw new UnrecoverableError('PAYMENT_PROVIDER_URL is not set: this process cannot charge');
  },
  async chargesFor() {
    throw new UnrecoverableError('PAYMENT_PROVIDER_URL is not set: this process cannot read the provider ledger');
  },
  async account() {
    throw new UnrecoverableError('PAYMENT_PROVIDER_URL is not set: this process cannot check a balance');
  },
  async refund() {
    throw new UnrecoverableError('PAYMENT_PROVIDER_URL is not set: this process cannot refund');
  },
};

const noFulfilmentService: FulfilmentService = {
  async fulfil() {
    throw new UnrecoverableError('FULFILMENT_URL is not set: this process cannot fulfil orders');
  },
};

/** `given` replaces a service, e.g. an in-process payment provider in the benchmark. */
export function createWorkerServices({ config, log, db, xsd }: AppContext, given: Partial<WorkerServices> = {}): WorkerServices & { close(): void } {
  // One sender, so one circuit breaker, per SMTP server: an outage seen by one kind of mail pauses the other too.
  const smtp = config.smtpUrl ? createSmtpSender(config, log.child({ component: 'smtp' })) : undefined;
  const mailer = given.mailer ?? (smtp ? sdiMailerOn(smtp, config) : noSmtpMailer);
  const customerMailer = given.customerMailer ?? (smtp ? customerMailerOn(smtp, config) : noSmtpCustomerMailer);
  const provider =
    given.payments ??
    (config.paymentProviderUrl ? createHttpPaymentProvider({ baseUrl: config.paymentProviderUrl, timeoutMs: config.paymentProviderTimeoutMs }) : noPaymentProvider);
  const payments = withCircuitBreaker(provider, { resetMs: config.paymentBreakerResetMs, log: log.child({ component: 'payment-provider' }) });
  const dataProvider = (name: string, url: string | undefined) =>
    url ? createHttpDataProvider({ name, url, timeoutMs: config.collectTimeoutMs, maxBytes: config.collectMaxBytes }) : undefined;
  const dataProviders =
    given.dataProviders ??
    createDataProviders({
      clients: { gas: dataProvider('gas provider', config.gasProviderUrl), internet: dataProvider('internet provider', config.internetProviderUrl) },
      resetMs: config.collectBreakerResetMs,
      log: log.child({ component: 'data-providers' }),
    });
  return {
    mailer,
    // The process's pool (queues/wiring.ts), shared with the API when both run in one process: never a second one.
    xsd: given.xsd ?? xsd,
    payments,
    invoiceCharges: given.invoiceCharges ?? createInvoiceCharges(db),
    fulfilment:
      given.fulfilment ??
      (config.fulfilmentUrl ? createHttpFulfilmentService({ baseUrl: config.fulfilmentUrl, timeoutMs: config.fulfilmentTimeoutMs }) : noFulfilmentService),
    customerMailer,
    dataProviders,
    random: given.random ?? Math.random,
    close: () => {
      dataProviders.shutdown();
      mailer.close();
      customerMailer.close();
      smtp?.close();
      payments.shutdown();
    },
  };
}
