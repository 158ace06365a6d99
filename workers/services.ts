// What handlers reach beyond the database and queues, built once per worker process: the SdI mailer, the payment provider, the batched invoice charges; and the process's XSD validator.
import { UnrecoverableError } from 'bullmq';
import type { AppContext } from '../queues/context.js';
import { createInvoiceCharges, type InvoiceCharges } from '../shared/billing/invoice-charges.js';
import { withCircuitBreaker } from '../shared/billing/provider/breaker.js';
import { createHttpPaymentProvider } from '../shared/billing/provider/http-provider.js';
import type { PaymentProvider } from '../shared/billing/provider/provider.js';
import type { XsdValidator } from '../shared/sdi/fatturapa/xsd.js';
import { createSdiMailer, type SdiMailer } from '../shared/sdi/mailer.js';

export interface WorkerServices {
  mailer: SdiMailer;
  xsd: XsdValidator;
  payments: PaymentProvider;
  invoiceCharges: InvoiceCharges;
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
  async chargesFor() {
    throw new UnrecoverableError('PAYMENT_PROVIDER_URL is not set: this process cannot read the provider ledger');
  },
};

/** `given` replaces a service, e.g. an in-process payment provider in the benchmark. */
export function createWorkerServices({ config, log, db, xsd }: AppContext, given: Partial<WorkerServices> = {}): WorkerServices & { close(): void } {
  const mailer = given.mailer ?? (config.smtpUrl ? createSdiMailer(config, log.child({ component: 'sdi-mailer' })) : noSmtpMailer);
  const provider =
    given.payments ??
    (config.paymentProviderUrl ? createHttpPaymentProvider({ baseUrl: config.paymentProviderUrl, timeoutMs: config.paymentProviderTimeoutMs }) : noPaymentProvider);
  const payments = withCircuitBreaker(provider, { resetMs: config.paymentBreakerResetMs, log: log.child({ component: 'payment-provider' }) });
  return {
    mailer,
    // The process's pool (queues/wiring.ts), shared with the API when both run in one process: never a second one.
    xsd: given.xsd ?? xsd,
    payments,
    invoiceCharges: given.invoiceCharges ?? createInvoiceCharges(db),
    close: () => {
      mailer.close();
      payments.shutdown();
    },
  };
}
