// A PaymentProvider over HTTP: speaks the provider contract (POST /charges with an Idempotency-Key) to any server that implements it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { parseRetryAfter } from '../../platform/http.js';
import { CurrencyMismatchError, CustomerNotFoundError, NetworkError, type PaymentProvider } from './provider.js';

export interface HttpPaymentProviderOptions {
  /** Where the provider lives; `/charges` is appended, with or without a trailing `/` here. */
  baseUrl: string;
  /** How long one charge may take, answer body included, before it counts as no answer. */
  timeoutMs: number;
}

const chargeAnswer = z.object({ id: z.string().min(1), charged: z.boolean() });

/** An idle keep-alive connection is dropped after this, before a server's own idle timeout (Node's is 5 s) can close it under a request. */
const IDLE_SOCKET_MS = 4000;

interface Answer {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

export function createHttpPaymentProvider(options: HttpPaymentProviderOptions): PaymentProvider {
  const chargesUrl = new URL(`${options.baseUrl.replace(/\/+$/, '')}/charges`);
  const { timeoutMs } = options;
  // node:http over a keep-alive pool rather than fetch: the same pooled connections at a fraction of fetch's CPU per
  // request, which is what bounds a worker's charges per second once the provider is slow and concurrency is high.
  const tls = chargesUrl.protocol === 'https:';
  const agent = tls ? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) : new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  const send = tls ? httpsRequest : httpRequest;

  /** POSTs `body`; one timer covers the request and the whole answer: a provider that sends headers and then stalls is no answer either. */
  function post(body: string, idempotencyKey: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(answer!);
      };
      const req = send(
        chargesUrl,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'idempotency-key': idempotencyKey,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          // Reading every body to its end is what puts the connection back in the keep-alive pool.
          res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, retryAfter: single(res.headers['retry-after']), text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => finish(err));
          res.on('close', () => res.complete || finish(Object.assign(new Error('the connection closed before the answer ended'), { code: 'ECONNRESET' })));
        },
      );
      const timer = setTimeout(() => {
        const err = new Error(`no answer within ${timeoutMs} ms`);
        err.name = 'TimeoutError';
        finish(err);
        req.destroy(err);
      }, timeoutMs);
      req.on('error', (err) => finish(err));
      req.end(body);
    });
  }

  return {
    async charge(request) {
      const { customerId, amountCents, currency, reference, idempotencyKey } = request;
      let response: Answer;
      try {
        response = await post(JSON.stringify({ customerId, amount: amountCents, currency, reference }), idempotencyKey);
      } catch (err) {
        throw noAnswer(err, timeoutMs);
      }
      const { status, text } = response;

      if (status >= 200 && status < 300) {
        const parsed = chargeAnswer.safeParse(parseJson(text));
        if (!parsed.success) {
          throw new NetworkError(`payment provider answered ${status} with an unexpected body: ${excerpt(text)}`);
        }
        return { charged: parsed.data.charged, chargeId: parsed.data.id };
      }
      if (status === 404) throw new CustomerNotFoundError(customerId);
      if (status === 409) throw new CurrencyMismatchError(customerId, currency);
      // 429, 5xx and whatever else the contract does not name: the charge may or may not have happened, so retry with the key.
      throw new NetworkError(`payment provider answered ${status}${text ? `: ${excerpt(text)}` : ''}`, parseRetryAfter(response.retryAfter));
    },
  };
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
