// Billing tests: a system wired to a sandbox payment provider, and pending invoices inserted straight into the database.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { PaymentSandbox, type PaymentSandboxOptions } from '../../scripts/sandboxes/payment-provider.js';
import { actors } from '../../shared/access/actors.js';
import type { InvoiceStatus } from '../../shared/invoices/status.js';
import { newId } from '../../shared/platform/ids.js';
import { addCustomer, addUser } from './fixtures.js';
import { createTestSystem, type TestSystem } from './system.js';

export interface BillingTestSystem {
  system: TestSystem;
  sandbox: PaymentSandbox;
  operator: { userId: string; auth: string };
  /** A customer with an EUR account at the sandbox holding `balance` cents. */
  customerId: string;
  close(): Promise<void>;
}

export async function createBillingTestSystem(
  env: Record<string, string> = {},
  { balance = 1_000_000_00, sandbox: sandboxOptions = {} }: { balance?: number; sandbox?: PaymentSandboxOptions } = {},
): Promise<BillingTestSystem> {
  const sandbox = await PaymentSandbox.start({ timeoutHoldMs: 5000, ...sandboxOptions });
  const system = await createTestSystem({ PAYMENT_PROVIDER_URL: sandbox.url, PAYMENT_PROVIDER_TIMEOUT_MS: '1000', ...env });
  const customerId = await addCustomer(system.ctx.db);
  sandbox.ledger.setAccount(customerId, { balance, currency: 'EUR' });
  const operator = await addUser(system.ctx.db, 'operator');
  return {
    system,
    sandbox,
    operator,
    customerId,
    async close() {
      await system.close();
      await sandbox.close();
    },
  };
}

export interface PendingInvoices {
  customerId: string;
  count: number;
  totalCents?: number;
  currency?: string;
  dueDate?: string;
  callbackUrl?: string;
  /** The submitting user: callbacks are signed with their secret. */
  userId?: string;
  paymentStatus?: 'PENDING' | 'PAID' | 'FAILED';
  /** Where the invoice stands with the SdI. @defaultValue `INTERNAL_INVOICE_DELIVERED`: accepted, so owed */
  status?: InvoiceStatus;
}

/** Inserts internal invoices awaiting payment, as the SdI flow leaves them (delivered, unless told otherwise); returns their ids. */
export async function insertPendingInvoices(db: Knex, spec: PendingInvoices): Promise<string[]> {
  const at = new Date().toISOString();
  const actor = actors.user(spec.userId ?? 'test');
  const rows = Array.from({ length: spec.count }, (_, i) => ({
    id: newId(),
    kind: 'internal',
    customer_id: spec.customerId,
    number: `T${randomBytes(4).toString('hex')}/${i}`,
    issue_date: '2026-10-01',
    due_date: spec.dueDate ?? '2026-11-01',
    currency: spec.currency ?? 'EUR',
    taxable_cents: spec.totalCents ?? 12_200,
    vat_cents: 0,
    total_cents: spec.totalCents ?? 12_200,
    status: spec.status ?? 'INTERNAL_INVOICE_DELIVERED',
    payment_status: spec.paymentStatus ?? 'PENDING',
    callback_url: spec.callbackUrl ?? null,
    created_at: at,
    created_by: actor,
    updated_at: at,
    updated_by: actor,
  }));
  for (let n = 0; n < rows.length; n += 200) await db('invoices').insert(rows.slice(n, n + 200));
  return rows.map((r) => r.id);
}
