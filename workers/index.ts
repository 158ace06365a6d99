// The task list: every job name of every served queue, mapped to its handler.
import { giveUpBilling, runBilling } from './billing-run.js';
import { chargeInvoice, giveUpCharging } from './charge-invoice.js';
import { chargeOneOffPayment, giveUpOneOffPayment } from './charge-payment.js';
import { applySdiNotification, giveUpSdiNotification } from './apply-sdi-notification.js';
import { deliverCallback, giveUpCallback } from './deliver-callback.js';
import { writeDlqReport } from './dlq-report.js';
import { writeInvoiceReport } from './invoice-report.js';
import { saveExternalInvoice } from './save-external-invoice.js';
import { saveInternalInvoice } from './save-internal-invoice.js';
import { giveUpSending, sendToSdi } from './send-to-sdi.js';
import type { HandlerRegistry } from './types.js';

export const handlers: HandlerRegistry = {
  'invoice-save': {
    internal: { run: saveInternalInvoice },
    external: { run: saveExternalInvoice },
    'sdi-notification': { run: applySdiNotification, giveUp: giveUpSdiNotification },
  },
  'sdi-send': {
    send: { run: sendToSdi, giveUp: giveUpSending },
  },
  charge: {
    charge: { run: chargeInvoice, giveUp: giveUpCharging },
    'one-off': { run: chargeOneOffPayment, giveUp: giveUpOneOffPayment },
  },
  billing: {
    'billing-run': { run: runBilling, giveUp: giveUpBilling },
  },
  callback: {
    deliver: { run: deliverCallback, giveUp: giveUpCallback },
  },
  reports: {
    'dlq-report': { run: writeDlqReport },
    'invoice-report': { run: writeInvoiceReport },
  },
};
