// What the fuzzer's requests name: a customer, an operator and a client with keys, an invoice through the SdI loop, a payment, orders, a run, a report.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SdiSimulator } from '../../scripts/sandboxes/sdi-simulator.js';
import { buildSdiReceipt } from '../../shared/sdi/fatturapa/messages.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import type { TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The resources the collection's requests name, as portman variables (`PORTMAN_<NAME>` becomes `{{name}}`). Every
 * request runs as the operator (`bearerToken`), who may call every route; the client's key is for the 403 variations.
 */
export interface Seeded {
  bearerToken: string;
  clientToken: string;
  customerId: string;
  clientUserId: string;
  /** A second key of the client's, for the revocation route to revoke. */
  spareKeyId: string;
  invoiceId: string;
  notificationId: string;
  receiptId: string;
  paymentId: string;
  paymentRefId: string;
  /** A `created` order, for getOrder (and listOrders' filters). */
  orderId: string;
  /** Another `created` order, which only cancelOrder's contract request names: it is canceled once, answering 200. */
  cancelOrderId: string;
  /** An order canceled while seeding, for cancelOrder's documented 409 (`order_not_cancelable`). */
  canceledOrderId: string;
  /** A `pending` collection request, for getCollection (no worker takes its job while fuzzing). */
  collectionId: string;
  billingRunId: string;
  reportId: string;
}

/** Calls the API as `auth` and returns the JSON answer, or throws unless it answered `expected`. */
async function call(baseUrl: string, auth: string, method: string, path: string, expected: number, body?: unknown, type = 'application/json') {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': type }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== expected) throw new Error(`seeding: ${method} ${path} answered ${res.status}, not ${expected}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * Seeds through the API where a route makes the thing, so each resource is as a client would find it. The invoice
 * goes the whole SdI loop (saved, rendered, mailed to the simulator, delivered) so that its FatturaPA document exists;
 * the workers and the simulator are stopped before the fuzzing starts, so nothing moves underneath it.
 */
export async function seed(system: TestSystem, baseUrl: string, smtpPort: number): Promise<Seeded> {
  const { db, log } = system.ctx;
  const customerId = await addCustomer(db);
  const operator = await addUser(db, 'operator');
  const client = await addUser(db, 'client', [customerId]);
  const asOperator = (method: string, path: string, expected: number, body?: unknown, type?: string) =>
    call(baseUrl, operator.auth, method, path, expected, body, type);

  const inboxDir = await mkdtemp(join(tmpdir(), 'antaeus-fuzz-sdi-'));
  const simulator = await SdiSimulator.start({ inboxDir, apiUrl: baseUrl, apiKey: operator.apiKey, delayMs: 0, port: smtpPort, log });
  // Only what the invoice's SdI loop needs, and never `orders`: the seeded orders must stay `created` (the fleet is
  // closed before they are placed anyway, and no other worker runs while fuzzing).
  const fleet = system.startWorkers(['invoice-save', 'sdi-send']);
  let invoice: { id: string; sdi: { fileName: string } };
  try {
    const accepted = await asOperator('POST', '/v1/invoices', 202, invoiceBody(customerId));
    invoice = await waitFor(
      async () => {
        const found = await asOperator('GET', `/v1/invoices/${accepted.id}`, 200);
        return found.status === 'INTERNAL_INVOICE_DELIVERED' && found;
      },
      { what: 'the seeded invoice to be delivered through the SdI simulator', timeoutMs: 20_000 },
    );
  } finally {
    await fleet.close(2000);
    await simulator.close();
    await rm(inboxDir, { recursive: true, force: true });
  }

  // The receipt the simulator posted, again: the same notification, and a receipt whose id the answer gives.
  const receipt = buildSdiReceipt({ type: 'RicevutaConsegna', fileName: invoice.sdi.fileName, sdiIdentifier: '4242', messageId: '77', receivedAt: new Date() });
  const notified = await asOperator('POST', '/v1/sdi/notifications', 202, receipt, 'application/xml');
  const spareKey = await asOperator('POST', `/v1/users/${client.userId}/api-keys`, 201);
  const payment = await asOperator('POST', '/v1/payments', 202, { customerId, amount: '12.50', currency: 'EUR', description: 'fuzz seed' });
  // Orders placed through the API (as the operator); their checkout jobs wait in Redis with no worker to take them.
  const placeOrder = async () => {
    const order = await asOperator('POST', '/v1/orders', 202, { customerId, amount: '12.50', currency: 'EUR' });
    if (order.status !== 'created') throw new Error(`seeding: the order ${order.id} is ${order.status}, not created`);
    return order.id as string;
  };
  const orderId = await placeOrder();
  const cancelOrderId = await placeOrder();
  const canceledOrderId = await placeOrder();
  await asOperator('DELETE', `/v1/orders/${canceledOrderId}`, 200);
  const collection = await asOperator('POST', '/v1/collections', 202, { provider: 'gas', callbackUrl: 'http://127.0.0.1:9/callbacks' });
  const run = await asOperator('POST', '/v1/billing/runs', 202, { cutoffDate: '2026-11-30' });
  const report = await asOperator('POST', '/v1/reports', 202, { type: 'dlq-report' });

  return {
    bearerToken: operator.apiKey,
    clientToken: client.apiKey,
    customerId,
    clientUserId: client.userId,
    spareKeyId: spareKey.id,
    invoiceId: invoice.id,
    notificationId: notified.id,
    receiptId: notified.receiptId,
    paymentId: payment.id,
    paymentRefId: payment.paymentRefId,
    orderId,
    cancelOrderId,
    canceledOrderId,
    collectionId: collection.requestId,
    billingRunId: run.id,
    reportId: report.id,
  };
}
