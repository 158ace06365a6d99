// The development seed: demo customers of every FatturaPA kind and a demo operator with an API key. Safe to run twice.
import type { Knex } from 'knex';
import type { CustomerInput } from './customers.js';
import { insertCustomer } from './customers.js';
import { addApiKey, findUserByUsername, insertUser } from './users.js';

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
