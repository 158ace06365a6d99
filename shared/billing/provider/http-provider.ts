// A PaymentProvider over HTTP: speaks the provider contract (POST /charges and POST /refunds with an Idempotency-Key, GET /charges?reference=, GET /accounts/:customerId) to any server that implements it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { parseRetryAfter } from '../../platform/http.js';
import {
  CurrencyMismatchError,
  CustomerNotFoundError,
  KeyInUseError,
  NetworkError,
  ProviderRejectedError,
  RefundRefusedError,
  type PaymentProvider,
  type ProviderCharge,
} from './provider.js';

export interface HttpPaymentProviderOptions {
  /** Where the provider lives; `/charges`, `/refunds` and `/accounts/…` are appended, with or without a trailing `/` here. */
  baseUrl: string;
  /** How long one call may take, answer body included, before it counts as no answer. */
  timeoutMs: number;
}

const chargeAnswer = z.object({ id: z.string().min(1), charged: z.boolean() });

const refundAnswer = z.object({ id: z.string().min(1), refunded: z.boolean() });

const accountAnswer = z.object({ balance: z.number().int(), currency: z.string() });

const ledgerAnswer = z.object({
  data: z.array(
    z.object({
      id: z.string().min(1),
      reference: z.string(),
      amount: z.number().int(),
      currency: z.string(),
      charged: z.boolean(),
      createdAt: z.string(),
      // Optional: a provider from before refunds lists no refunds, and its charges read as never refunded.
      refunded: z.number().int().optional(),
      refunds: z.array(z.object({ id: z.string().min(1), amount: z.number().int(), createdAt: z.string() })).optional(),
    }),
  ),
});

/** The contract's error body; anything else (an HTML page from a wrong URL) has no code. */
const errorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });

/** An idle keep-alive connection is dropped after this, before a server's own idle timeout (Node's is 5 s) can close it under a request. */
const IDLE_SOCKET_MS = 4000;

interface Answer {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

export function createHttpPaymentProvider(options: HttpPaymentProviderOptions): PaymentProvider {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const chargesUrl = new URL(`${baseUrl}/charges`);
  const refundsUrl = new URL(`${baseUrl}/refunds`);
  const { timeoutMs } = options;
  // node:http over a keep-alive pool rather than fetch: the same pooled connections at a fraction of fetch's CPU per
  // request, which is what bounds a worker's charges per second once the provider is slow and concurrency is high.
  const tls = chargesUrl.protocol === 'https:';
  const agent = tls ? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) : new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  const send = tls ? httpsRequest : httpRequest;

  /**
   * POSTs `body` with its key, or GETs without one; one timer covers the request and the whole answer: a provider that
   * sends headers and then stalls is no answer either. Rejects only when there is no answer; every status resolves.
   */
  function call(url: URL, post?: { body: string; idempotencyKey: string }): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(answer!);
      };
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (post) {
        headers['content-type'] = 'application/json';
        headers['idempotency-key'] = post.idempotencyKey;
        headers['content-length'] = Buffer.byteLength(post.body);
      }
      const req = send(url, { method: post ? 'POST' : 'GET', agent, headers }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        // Reading every body to its end is what puts the connection back in the keep-alive pool.
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, retryAfter: single(res.headers['retry-after']), text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish(err));
        res.on('close', () => res.complete || finish(Object.assign(new Error('the connection closed before the answer ended'), { code: 'ECONNRESET' })));
      });
      const timer = setTimeout(() => {
        const err = new Error(`no answer within ${timeoutMs} ms`);
        err.name = 'TimeoutError';
        finish(err);
        req.destroy(err);
      }, timeoutMs);
      req.on('error', (err) => finish(err));
      req.end(post?.body);
    });
  }

  async function answerOf(url: URL, post?: { body: string; idempotencyKey: string }): Promise<Answer> {
    try {
      return await call(url, post);
    } catch (err) {
      throw noAnswer(err, timeoutMs);
    }
  }

  return {
    async charge(request) {
      const { customerId, amountCents, currency, reference, idempotencyKey } = request;
      const response = await answerOf(chargesUrl, { body: JSON.stringify({ customerId, amount: amountCents, currency, reference }), idempotencyKey });
      const { status, text } = response;
      if (status >= 200 && status < 300) {
        const parsed = chargeAnswer.safeParse(parseJson(text));
        if (!parsed.success) {
          throw new NetworkError(`payment provider answered ${status} with an unexpected body: ${excerpt(text)}`);
        }
        return { charged: parsed.data.charged, chargeId: parsed.data.id };
      }
      // By the code, not the status alone: a wrong base URL also answers 404, and that is no customer's fault.
      const { code } = refusal(text);
      if (status === 404 && code === 'customer_not_found') throw new CustomerNotFoundError(customerId);
      if (status === 409 && code === 'currency_mismatch') throw new CurrencyMismatchError(customerId, currency);
      if (status === 409 && code === 'idempotency_key_in_use') throw new KeyInUseError(idempotencyKey, parseRetryAfter(response.retryAfter));
      throw failure(response);
    },

    async chargesFor(reference) {
      const url = new URL(chargesUrl);
      url.searchParams.set('reference', reference);
      const response = await answerOf(url);
      const { status, text } = response;
      if (status < 200 || status >= 300) throw failure(response);
      const parsed = ledgerAnswer.safeParse(parseJson(text));
      if (!parsed.success) {
        throw new NetworkError(`payment provider answered ${status} to GET /charges with an unexpected body: ${excerpt(text)}`);
      }
      // A provider that ignored the filter would hand us other references' charges, and one of them could pass for ours.
      return parsed.data.data
        .filter((entry) => entry.reference === reference)
        .map(
          ({ id, amount, currency, charged, createdAt, refunds = [] }): ProviderCharge => ({
            id,
            reference,
            amountCents: amount,
            currency,
            charged,
            createdAt,
            refunds: refunds.map((r) => ({ id: r.id, amountCents: r.amount, createdAt: r.createdAt })),
          }),
        );
    },

    async account(customerId) {
      // Encoded: a customer id with a `/` or a `?` must stay one path segment, not reach another route.
      const response = await answerOf(new URL(`${baseUrl}/accounts/${encodeURIComponent(customerId)}`));
      const { status, text } = response;
      if (status >= 200 && status < 300) {
        const parsed = accountAnswer.safeParse(parseJson(text));
        if (!parsed.success) {
          throw new NetworkError(`payment provider answered ${status} to GET /accounts with an unexpected body: ${excerpt(text)}`);
        }
        return { balanceCents: parsed.data.balance, currency: parsed.data.currency };
      }
      // By the code, as for a charge: the 404 of a wrong base URL is no unknown customer.
      if (status === 404 && refusal(text).code === 'customer_not_found') throw new CustomerNotFoundError(customerId);
      throw failure(response);
    },

    async refund(request) {
      const { chargeId, amountCents, reference, idempotencyKey } = request;
      const response = await answerOf(refundsUrl, { body: JSON.stringify({ chargeId, amount: amountCents, reference }), idempotencyKey });
      const { status, text } = response;
      if (status >= 200 && status < 300) {
        const parsed = refundAnswer.safeParse(parseJson(text));
        if (!parsed.success) {
          throw new NetworkError(`payment provider answered ${status} to POST /refunds with an unexpected body: ${excerpt(text)}`);
        }
        return { refundId: parsed.data.id, refunded: parsed.data.refunded };
      }
      // By the code and its status, as for a charge: a refusal of this refund, which the same request will meet again.
      const { code, message } = refusal(text);
      if (status === 404 && code === 'charge_not_found') throw new RefundRefusedError(code, message ?? '');
      if (status === 409 && (code === 'charge_not_captured' || code === 'refund_exceeds_charge')) throw new RefundRefusedError(code, message ?? '');
      if (status === 409 && code === 'idempotency_key_in_use') throw new KeyInUseError(idempotencyKey, parseRetryAfter(response.retryAfter));
      throw failure(response);
    },
  };
}

/**
 * An answer the contract does not name as an outcome. A 4xx other than 408 and 429 says our request or configuration
 * is wrong and retrying it cannot help; 408, 429, 5xx and anything else may or may not have been processed, so they are
 * retried with the same key.
 */
function failure(response: Answer): ProviderRejectedError | NetworkError {
  const { status, text } = response;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    const { code, message } = refusal(text);
    return new ProviderRejectedError(status, code, message ?? excerpt(text));
  }
  return new NetworkError(`payment provider answered ${status}${text ? `: ${excerpt(text)}` : ''}`, parseRetryAfter(response.retryAfter));
}

function refusal(text: string): { code?: string; message?: string } {
  const parsed = errorAnswer.safeParse(parseJson(text));
  return parsed.success ? parsed.data.error : {};
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function noAnswer(err: unknown, timeoutMs: number): NetworkError {
  const name = err instanceof Error ? err.name : '';
  const message =
    name === 'TimeoutError' || name === 'AbortError'
      ? `payment provider gave no answer within ${timeoutMs} ms`
      : `payment provider unreachable: ${describe(err)}`;
  const error = new NetworkError(message);
  error.cause = err;
  return error;
}

// What went wrong (ECONNREFUSED, a reset socket) is in the error's code, or in its cause when something wrapped it.
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { code } = err as { code?: string };
  const cause = err.cause as { code?: string; message?: string } | undefined;
  if (!cause) return code && !err.message.includes(code) ? `${err.message}: ${code}` : err.message;
  return [err.message, cause.code, cause.message].filter(Boolean).join(': ');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
