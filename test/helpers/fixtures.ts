// Test data: customers, users with API keys, and realistic invoice bodies.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { insertCustomer, type CustomerInput } from '../../shared/access/customers.js';
import type { Role } from '../../shared/access/principal.js';
import { addApiKey, insertUser, linkCustomer } from '../../shared/access/users.js';

const suffix = () => randomBytes(4).toString('hex');

export async function addCustomer(db: Knex, overrides: Partial<CustomerInput> = {}): Promise<string> {
  const { id } = await insertCustomer(db, {
    id: `cust-${suffix()}`,
    name: 'Rossi Forniture S.r.l.',
    vatNumber: 'IT01879020517',
    address: { street: 'Via Roma 12', postalCode: '00184', city: 'Roma', province: 'RM', country: 'IT' },
    sdiCode: 'M5UXCR1',
    currency: 'EUR',
    email: 'billing@rossi.example',
    username: `rossi-${suffix()}`,
    ...overrides,
  });
  return id;
}

export async function addUser(db: Knex, role: Role, customerIds: string[] = []): Promise<{ userId: string; apiKey: string; auth: string }> {
  const userId = await insertUser(db, { username: `${role}-${suffix()}`, email: `${role}@example.com`, role });
  for (const customerId of customerIds) await linkCustomer(db, userId, customerId);
  const apiKey = await addApiKey(db, userId);
  return { userId, apiKey, auth: `Bearer ${apiKey}` };
}

/** About 1 KB of JSON: a small invoice with three lines, one of them exempt. */
export function invoiceBody(customerId: string, overrides: Record<string, unknown> = {}) {
  return {
    customerId,
    number: `2026/${suffix()}`,
    issueDate: '2026-11-01',
    dueDate: '2026-12-01',
    currency: 'EUR',
    lines: [
      { description: 'Consulenza sistemistica, ottobre 2026, 12 ore presso la sede del cliente', quantity: '12', unitPrice: '85.00', vatRate: '22' },
      { description: 'Licenza software gestionale, canone mensile', quantity: 1, unitPrice: '149.90', vatRate: 22 },
      { description: 'Bolli e spese di trasferta documentate', quantity: 1, unitPrice: '2.00', vatRate: 0, natura: 'N1' },
    ],
    ...overrides,
  };
}
