// The development seed: demo customers of every FatturaPA kind, a demo operator with an API key, demo invoices to bill. Safe to run twice.
import type { Knex } from 'knex';
import { jobIds } from '../queues/jobs.js';
import type { Queues } from '../queues/producer.js';
import { insertCustomer, type CustomerInput } from '../shared/access/customers.js';
import { addApiKey, findUserByUsername, insertUser } from '../shared/access/users.js';
import { invoiceDocumentSchema, type InvoiceDocument } from '../shared/invoices/document.js';
import { invoiceId } from '../shared/invoices/invoice.js';
import { nowIso } from '../shared/platform/db.js';

export const DEMO_OPERATOR = 'demo-operator';

export const DEMO_CUSTOMERS: CustomerInput[] = [
  {
    id: 'demo-rossi',
    name: 'Rossi Forniture S.r.l.',
    vatNumber: 'IT01879020517',
    address: { street: 'Via Roma 12', postalCode: '00184', city: 'Roma', province: 'RM', country: 'IT' },
    sdiCode: 'M5UXCR1',
    currency: 'EUR',
    email: 'amministrazione@rossi-forniture.example',
    username: 'rossi',
  },
  {
    id: 'demo-bianchi',
    name: 'Studio Bianchi di Maria Bianchi',
    fiscalCode: 'BNCMRA80A41H501E',
    address: { street: 'Corso Vittorio Emanuele 5', postalCode: '20122', city: 'Milano', province: 'MI', country: 'IT' },
    sdiCode: '0000000',
    pec: 'studio.bianchi@pec.example.it',
    currency: 'EUR',
    email: 'maria@studiobianchi.example',
    username: 'bianchi',
  },
  {
    id: 'demo-comune',
    name: 'Comune di Città della Pieve',
    fiscalCode: '80003490549',
    address: { street: 'Piazza Plebiscito 1', postalCode: '06062', city: 'Città della Pieve', province: 'PG', country: 'IT' },
    sdiCode: 'UFABCD',
    currency: 'EUR',
    email: 'ragioneria@comune.example.it',
    username: 'comune',
  },
  {
    id: 'demo-nordisk',
    name: 'Nordisk Design ApS',
    vatNumber: 'DK28495867',
    address: { street: 'Nørrebrogade 44', postalCode: '00000', city: 'København', country: 'DK' },
    sdiCode: 'XXXXXXX',
    currency: 'DKK',
    email: 'billing@nordisk.example',
    username: 'nordisk',
  },
];

export interface SeedResult {
  operatorId: string;
  /** The key that was stored now, or undefined when the given key was already there. */
  apiKey: string;
}

/** Seeds the demo data. With `apiKey` the operator gets exactly that key; without, a new one is generated. */
export async function seedDevelopment(db: Knex, apiKey?: string): Promise<SeedResult> {
  for (const customer of DEMO_CUSTOMERS) await insertCustomer(db, customer);
  const existing = await findUserByUsername(db, DEMO_OPERATOR);
  const operatorId =
    existing?.id ?? (await insertUser(db, { username: DEMO_OPERATOR, email: 'operator@antaeus.example', role: 'operator' }));
  const key = await addApiKey(db, operatorId, apiKey);
  return { operatorId, apiKey: key };
}

/** One invoice per demo customer, already due: after the SdI has them, a billing run charges them. */
export const DEMO_INVOICES: InvoiceDocument[] = [
  ['demo-rossi', 'EUR', 'Assistenza sistemistica, ottobre 2026', '10', '85.00'],
  ['demo-bianchi', 'EUR', 'Licenza software gestionale, canone annuale', '1', '1490.00'],
  ['demo-comune', 'EUR', 'Manutenzione del portale dei servizi online', '1', '2400.00'],
  ['demo-nordisk', 'DKK', 'Software licence, annual fee', '1', '9500.00'],
].map(([customerId, currency, description, quantity, unitPrice]) => invoiceDocumentSchema.parse({
  customerId,
  number: `DEMO-2026-${customerId!.slice(5, 8).toUpperCase()}`,
  issueDate: '2026-10-01',
  dueDate: '2026-10-31',
  currency,
  lines: [{ description, quantity, unitPrice, vatRate: customerId === 'demo-nordisk' ? '0' : '22', natura: customerId === 'demo-nordisk' ? 'N2.1' : undefined }],
}));

/** Sandbox balances for the demo customers, in minor units: the Comune cannot pay yet, to show dunning. */
export const DEMO_ACCOUNTS: Record<string, { balance: number; currency: string }> = {
  'demo-rossi': { balance: 5_000_00, currency: 'EUR' },
  'demo-bianchi': { balance: 2_500_00, currency: 'EUR' },
  'demo-comune': { balance: 0, currency: 'EUR' },
  'demo-nordisk': { balance: 50_000_00, currency: 'DKK' },
};

/** Submits the demo invoices the way the API does (first run only): saved, sent to the SdI, then PENDING payment. */
export async function submitDemoInvoices(ctx: { db: Knex; queues: Queues }, operatorId: string): Promise<number> {
  let submitted = 0;
  for (const document of DEMO_INVOICES) {
    const id = invoiceId('internal', document.customerId, document.number);
    if (await ctx.db('invoices').first('id').where({ id })) continue;
    await ctx.queues.add('invoice-save', 'internal', { invoiceId: id, document, acceptedAt: nowIso(), submittedBy: operatorId }, { jobId: jobIds.invoiceSave(id) });
    submitted++;
  }
  return submitted;
}
