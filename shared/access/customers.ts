// Customers (the buyers on our invoices): the schema operators create them with, persistence and scoped reads.
import type { Knex } from 'knex';
import { z } from 'zod';
import { nowIso, toIso } from '../platform/db.js';
import { newId } from '../platform/ids.js';
import { safeText, withoutControlChars } from '../platform/input.js';
import { keysetPage, toPage, type Page, type PageArgs } from '../platform/pagination.js';
import { scopeToCustomers, type Principal } from './principal.js';

const latin = (max: number) => z.string().min(1).max(max).regex(/^[\x20-\x7e\xa0-\xff]+$/, 'only Latin-1 characters');

/** A customer as an operator creates one; unknown fields are refused, in the address too. */
export const customerInputSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only').optional(),
    name: latin(80),
    vatNumber: z.string().regex(/^[A-Z]{2}[A-Za-z0-9]{1,28}$/, 'country code and number, e.g. IT01234567890').optional(),
    fiscalCode: z.string().regex(/^[A-Z0-9]{11,16}$/, '11 to 16 letters or digits').optional(),
    address: z.strictObject({
      street: latin(60),
      postalCode: z.string().regex(/^\d{5}$/, 'five digits (00000 abroad)'),
      city: latin(60),
      province: z.string().regex(/^[A-Z]{2}$/, 'two capital letters').optional(),
      country: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2, e.g. IT'),
    }),
    sdiCode: z.string().regex(/^[A-Z0-9]{6,7}$/, '7 characters, or 6 for a public administration office').optional(),
    pec: withoutControlChars(z.email().max(256)).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR'),
    email: withoutControlChars(z.email().max(256)),
    username: safeText(64).min(1),
  })
  .refine((c) => c.vatNumber || c.fiscalCode, { path: ['vatNumber'], message: 'a VAT number or a fiscal code is required' })
  .refine((c) => c.sdiCode || c.pec, { path: ['sdiCode'], message: 'an SdI recipient code or a PEC address is required' });

export type CustomerInput = z.output<typeof customerInputSchema>;

export interface Customer {
  id: string;
  name: string;
  vatNumber: string | null;
  fiscalCode: string | null;
  address: { street: string; postalCode: string; city: string; province: string | null; country: string };
  /** `0000000` when the invoice reaches the buyer through its PEC. */
  sdiCode: string;
  pec: string | null;
  currency: string;
  email: string;
  username: string;
  createdAt: string;
  updatedAt: string;
}

type Row = Record<string, unknown>;

function toCustomer(r: Row): Customer {
  return {
    id: String(r.id),
    name: String(r.name),
    vatNumber: (r.vat_number as string | null) ?? null,
    fiscalCode: (r.fiscal_code as string | null) ?? null,
    address: {
      street: String(r.address_street),
      postalCode: String(r.address_postal_code),
      city: String(r.address_city),
      province: (r.address_province as string | null) ?? null,
      country: String(r.address_country),
    },
    sdiCode: String(r.sdi_code),
    pec: (r.pec as string | null) ?? null,
    currency: String(r.currency),
    email: String(r.email),
    username: String(r.username),
    createdAt: toIso(r.created_at),
    updatedAt: toIso(r.updated_at),
  };
}

/** Inserts a customer, or does nothing if its id exists; returns whether it was created. */
export async function insertCustomer(db: Knex, input: CustomerInput): Promise<{ id: string; created: boolean }> {
  const id = input.id ?? newId();
  const at = nowIso();
  const inserted = await db('customers')
    .insert({
      id,
      name: input.name,
      vat_number: input.vatNumber ?? null,
      fiscal_code: input.fiscalCode ?? null,
      address_street: input.address.street,
      address_postal_code: input.address.postalCode,
      address_city: input.address.city,
      address_province: input.address.province ?? null,
      address_country: input.address.country,
      sdi_code: input.sdiCode ?? '0000000',
      pec: input.pec ?? null,
      currency: input.currency,
      email: input.email,
      username: input.username,
      created_at: at,
      updated_at: at,
    })
    .onConflict('id')
    .ignore()
    .returning('id');
  return { id, created: inserted.length === 1 };
}

export async function findCustomer(db: Knex, id: string): Promise<Customer | undefined> {
  const row = await db('customers').first('*').where({ id });
  return row ? toCustomer(row) : undefined;
}

export async function findVisibleCustomer(db: Knex, principal: Principal, id: string): Promise<Customer | undefined> {
  const row = await scopeToCustomers(db('customers').first('*').where('customers.id', id), db, principal, 'customers.id');
  return row ? toCustomer(row) : undefined;
}

export async function listCustomers(
  db: Knex,
  principal: Principal,
  page: PageArgs,
): Promise<Page<Customer>> {
  const query = scopeToCustomers(db('customers').select('customers.*'), db, principal, 'customers.id');
  const rows: Row[] = await keysetPage(query, 'customers', page.limit, page.after);
  return toPage(rows.map(toCustomer), page.limit);
}
