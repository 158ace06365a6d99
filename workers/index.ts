// The task list: every job name of every served queue, mapped to its handler.
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
  callback: {
    deliver: { run: deliverCallback, giveUp: giveUpCallback },
  },
  reports: {
    'dlq-report': { run: writeDlqReport },
    'invoice-report': { run: writeInvoiceReport },
  },
};
