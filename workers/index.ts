// The task list: every job name of every served queue, mapped to its handler.
import { giveUpBilling, runBilling } from './billing/billing-run.js';
import { deliverCallback, giveUpCallback } from './callback/deliver.js';
import { chargeInvoice, giveUpCharging } from './charge/charge.js';
import { collectData, giveUpCollecting } from './collect/collect.js';
import { chargeOneOffPayment, giveUpOneOffPayment } from './charge/one-off.js';
import { sendMail, giveUpMail } from './mail/send.js';
import { checkoutOrder, giveUpCheckout } from './orders/checkout.js';
import { fulfilOrder } from './orders/fulfil.js';
import { giveUpRefund, refundOrder } from './orders/refund.js';
import { saveExternalInvoice } from './invoice-save/external.js';
import { saveInternalInvoice } from './invoice-save/internal.js';
import { applySdiNotification, giveUpSdiNotification } from './invoice-save/sdi-notification.js';
import { reconcile } from './maintenance/reconcile.js';
import { sweep } from './maintenance/sweep.js';
import { writeDlqReport } from './reports/dlq-report.js';
import { writeInvoiceReport } from './reports/invoice-report.js';
import { giveUpSending, sendToSdi } from './sdi-send/send.js';
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
  collect: {
    // A provider's refusal or the last attempt fails the request in the handler itself; the hook covers our own errors.
    collect: { run: collectData, giveUp: giveUpCollecting },
  },
  orders: {
    checkout: { run: checkoutOrder, giveUp: giveUpCheckout },
    // Fulfilment that fails for good owes the refund in the handler itself, on its last attempt: no give-up hook.
    fulfil: { run: fulfilOrder },
    refund: { run: refundOrder, giveUp: giveUpRefund },
  },
  mail: {
    send: { run: sendMail, giveUp: giveUpMail },
  },
  reports: {
    'dlq-report': { run: writeDlqReport },
    'invoice-report': { run: writeInvoiceReport },
  },
  maintenance: {
    sweep: { run: sweep },
    reconcile: { run: reconcile },
  },
};
