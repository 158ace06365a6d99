// The task list: every job name of every served queue, mapped to its handler.
import { applySdiNotification, giveUpSdiNotification } from './apply-sdi-notification.js';
import { deliverCallback, giveUpCallback } from './deliver-callback.js';
import { saveExternalInvoice } from './save-external-invoice.js';
import { saveInternalInvoice } from './save-internal-invoice.js';
import type { HandlerRegistry } from './types.js';

export const handlers: HandlerRegistry = {
  'invoice-save': {
    internal: { run: saveInternalInvoice },
    external: { run: saveExternalInvoice },
    'sdi-notification': { run: applySdiNotification, giveUp: giveUpSdiNotification },
  },
  callback: {
    deliver: { run: deliverCallback, giveUp: giveUpCallback },
  },
};
