// Collection tests: a system wired to the sandbox data providers and a callback receiver, with helpers to ask for a collection and follow it.
import request from 'supertest';
import { DataProviderSandbox, type DataProviderSandboxOptions } from '../../scripts/sandboxes/data-providers.js';
import type { CollectionStatus } from '../../shared/collections/status.js';
import { addUser } from './fixtures.js';
import { Receiver, type Responder } from './receiver.js';
import { createTestSystem, type TestSystem } from './system.js';
import { waitFor } from './wait.js';

export type CollectionRead = Record<string, unknown> & {
  requestId: string;
  status: CollectionStatus;
  attemptsMade: number;
  attempts: { attempt: number; outcome: string | null; statusCode: number | null; error: string | null; durationMs: number | null; retryAfterMs: number | null; waitMs: number | null; startedAt: string }[];
};

export interface CollectionsTestSystem {
  system: TestSystem;
  providers: DataProviderSandbox;
  /** The client's callback endpoint. */
  receiver: Receiver;
  /** The client who asks: its secret signs the callbacks. */
  client: { userId: string; auth: string };
  /** POSTs a collection as the client; answers the 202 body. */
  ask(body?: Record<string, unknown>): Promise<{ requestId: string; status: string }>;
  /** GET /v1/collections/:requestId as the client. */
  read(requestId: string): Promise<CollectionRead>;
  /** Polls the request until it is in one of `statuses`. */
  waitForStatus(requestId: string, statuses: CollectionStatus | CollectionStatus[], timeoutMs?: number): Promise<CollectionRead>;
  close(): Promise<void>;
}

export async function createCollectionsTestSystem(
  env: Record<string, string> = {},
  options: { providers?: DataProviderSandboxOptions; respond?: Responder; redisUrl?: string } = {},
): Promise<CollectionsTestSystem> {
  const providers = await DataProviderSandbox.start({ timeoutHoldMs: 2000, ...options.providers });
  const receiver = await Receiver.start(options.respond);
  const system = await createTestSystem({
    GAS_PROVIDER_URL: providers.urlFor('gas'),
    INTERNET_PROVIDER_URL: providers.urlFor('internet'),
    COLLECT_TIMEOUT_MS: '1000',
    // A circuit that opens in a test closes again within it.
    COLLECT_BREAKER_RESET_MS: '200',
    ...env,
  }, { redisUrl: options.redisUrl });
  const client = await addUser(system.ctx.db, 'client');
  const t: CollectionsTestSystem = {
    system,
    providers,
    receiver,
    client,
    async ask(body = {}) {
      const res = await request(system.app)
        .post('/v1/collections')
        .set('Authorization', client.auth)
        .send({ provider: 'gas', callbackUrl: receiver.url(), ...body });
      if (res.status !== 202) throw new Error(`POST /v1/collections answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body as { requestId: string; status: string };
    },
    async read(requestId) {
      return (await request(system.app).get(`/v1/collections/${requestId}`).set('Authorization', client.auth).expect(200)).body;
    },
    waitForStatus(requestId, statuses, timeoutMs = 15_000) {
      const wanted = [statuses].flat();
      return waitFor(
        async () => {
          const read = await t.read(requestId);
          return wanted.includes(read.status) ? read : undefined;
        },
        { timeoutMs, intervalMs: 25, what: `collection ${requestId} to be ${wanted.join(' or ')}` },
      );
    },
    async close() {
      await system.close();
      await Promise.all([providers.close(), receiver.close()]);
    },
  };
  return t;
}
