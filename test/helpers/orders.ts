// Order tests: a system wired to the sandbox payment provider, the sandbox fulfilment service and a mail catcher, with helpers to place and follow orders.
import PostalMime from 'postal-mime';
import request from 'supertest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { FulfilmentSandbox, type FulfilmentSandboxOptions } from '../../scripts/sandboxes/fulfilment-service.js';
import { PaymentSandbox, type PaymentSandboxOptions } from '../../scripts/sandboxes/payment-provider.js';
import type { OrderStatus } from '../../shared/orders/status.js';
import { addCustomer, addUser } from './fixtures.js';
import { createTestSystem, type TestSystem } from './system.js';
import { waitFor } from './wait.js';

/** A mail the catcher received. */
export interface CaughtMail {
  to: string[];
  messageId: string;
  subject: string;
  text: string;
}

/** A local SMTP server standing in for the mail relay: keeps every message it accepts. */
export class MailCatcher {
  readonly mails: CaughtMail[] = [];
  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
  ) {}

  static async start(): Promise<MailCatcher> {
    let catcher: MailCatcher | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          void PostalMime.parse(Buffer.concat(chunks)).then((email) => {
            catcher!.mails.push({
              to: session.envelope.rcptTo.map((r) => r.address),
              messageId: email.messageId ?? '',
              subject: email.subject ?? '',
              text: email.text ?? '',
            });
            callback();
          }, callback);
        });
      },
    });
    // A client killed mid-session (a worker SIGKILLed while sending) resets its connection: expected, not a crash.
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    catcher = new MailCatcher(server, (server.server.address() as AddressInfo).port);
    return catcher;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface OrdersTestSystem {
  system: TestSystem;
  payments: PaymentSandbox;
  fulfilment: FulfilmentSandbox;
  mail: MailCatcher;
  operator: { userId: string; auth: string };
  /** A customer with an EUR account at the payment sandbox holding `balance` cents. */
  customerId: string;
  /** POSTs an order as the operator; answers the response body (202 expected). */
  place(body?: Record<string, unknown>): Promise<{ id: string; status: string }>;
  /** GET /v1/orders/:id as the operator. */
  read(id: string): Promise<Record<string, unknown> & { status: OrderStatus }>;
  /** Polls the order until it is in one of `statuses`. */
  waitForStatus(id: string, statuses: OrderStatus | OrderStatus[], timeoutMs?: number): Promise<Record<string, unknown> & { status: OrderStatus }>;
  close(): Promise<void>;
}

export async function createOrdersTestSystem(
  env: Record<string, string> = {},
  options: { balance?: number; payments?: PaymentSandboxOptions; fulfilment?: FulfilmentSandboxOptions } = {},
): Promise<OrdersTestSystem> {
  const payments = await PaymentSandbox.start({ timeoutHoldMs: 2000, ...options.payments });
  const fulfilment = await FulfilmentSandbox.start({ timeoutHoldMs: 2000, ...options.fulfilment });
  const mail = await MailCatcher.start();
  const system = await createTestSystem({
    PAYMENT_PROVIDER_URL: payments.url,
    PAYMENT_PROVIDER_TIMEOUT_MS: '1000',
    FULFILMENT_URL: fulfilment.url,
    FULFILMENT_TIMEOUT_MS: '1000',
    SMTP_URL: mail.url,
    SMTP_TIMEOUT_MS: '2000',
    ...env,
  });
  const customerId = await addCustomer(system.ctx.db);
  payments.ledger.setAccount(customerId, { balance: options.balance ?? 1_000_000_00, currency: 'EUR' });
  const operator = await addUser(system.ctx.db, 'operator');
  const t: OrdersTestSystem = {
    system,
    payments,
    fulfilment,
    mail,
    operator,
    customerId,
    async place(body = {}) {
      const res = await request(system.app)
        .post('/v1/orders')
        .set('Authorization', operator.auth)
        .send({ customerId, amount: '12.50', currency: 'EUR', ...body });
      if (res.status !== 202) throw new Error(`POST /v1/orders answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body as { id: string; status: string };
    },
    async read(id) {
      return (await request(system.app).get(`/v1/orders/${id}`).set('Authorization', operator.auth).expect(200)).body;
    },
    waitForStatus(id, statuses, timeoutMs = 15_000) {
      const wanted = [statuses].flat();
      return waitFor(
        async () => {
          const order = await t.read(id);
          return wanted.includes(order.status) ? order : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `order ${id} to be ${wanted.join(' or ')}` },
      );
    },
    async close() {
      await system.close();
      await Promise.all([payments.close(), fulfilment.close(), mail.close()]);
    },
  };
  return t;
}
