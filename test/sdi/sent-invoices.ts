// Fixtures for the receipt tests: an invoice as the sdi-send worker leaves it (SENT, with its file), and receipts for it.
import { actors } from '../../shared/access/actors.js';
import { invoiceDocumentSchema } from '../../shared/invoices/document.js';
import { invoiceId } from '../../shared/invoices/invoice.js';
import { insertNewInvoice, transitionInvoice } from '../../shared/invoices/store.js';
import { buildSdiReceipt, type ReceiptInput } from '../../shared/sdi/fatturapa/messages.js';
import { markSdiFileSent, prepareSdiFile } from '../../shared/sdi/files.js';
import { transmitterOf } from '../../shared/sdi/seller.js';
import { invoiceBody } from '../helpers/fixtures.js';
import type { TestSystem } from '../helpers/system.js';

/** An invoice of `customerId` mailed to the SdI under the transmitter's next file name. */
export async function sentInvoice(system: TestSystem, customerId: string, submittedBy: string): Promise<{ id: string; fileName: string }> {
  const { db } = system.ctx;
  const document = invoiceDocumentSchema.parse(invoiceBody(customerId));
  const id = invoiceId('internal', customerId, document.number);
  await insertNewInvoice(db, { id, kind: 'internal', document, acceptedAt: new Date().toISOString(), submittedBy });
  await transitionInvoice(db, id, 'INTERNAL_INVOICE_TOBE_SENT', { actor: actors.worker('test') });
  const file = await prepareSdiFile(db, { invoiceId: id, transmitter: transmitterOf(system.config), format: 'FPR12', render: () => '<x/>' });
  await markSdiFileSent(db, file.fileName, { messageId: '<m@x>', response: '250 ok' });
  await transitionInvoice(db, id, 'INTERNAL_INVOICE_SENT', { actor: actors.worker('test') });
  return { id, fileName: file.fileName };
}

/** A schema-valid receipt as the simulator writes it. */
export const receiptXml = (input: Partial<ReceiptInput> & Pick<ReceiptInput, 'type' | 'fileName'>) =>
  buildSdiReceipt({ sdiIdentifier: '4242', messageId: '77', receivedAt: new Date(), ...input });

/** The rows of sdi_receipts: what the API kept. */
export async function keptReceipts(system: TestSystem): Promise<number> {
  const [{ n }] = await system.ctx.db('sdi_receipts').count({ n: '*' });
  return Number(n);
}
