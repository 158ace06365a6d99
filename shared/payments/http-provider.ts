// A PaymentProvider over HTTP: speaks the provider contract (POST /charges with an Idempotency-Key) to any server that implements it.
import { z } from 'zod';
import { parseRetryAfter } from '../../queues/policy.js';
import { CurrencyMismatchError, CustomerNotFoundError, NetworkError, type PaymentProvider } from './provider.js';

export interface HttpPaymentProviderOptions {
  /** Where the provider lives; `/charges` is appended, with or without a trailing `/` here. */
  baseUrl: string;
  /** How long one charge may take, answer body included, before it counts as no answer. */
  timeoutMs: number;
}

const chargeAnswer = z.object({ id: z.string().min(1), charged: z.boolean() });

export function createHttpPaymentProvider(options: HttpPaymentProviderOptions): PaymentProvider {
  const chargesUrl = `${options.baseUrl.replace(/\/+$/, '')}/charges`;
  const { timeoutMs } = options;

  return {
    async charge(request) {
      const { customerId, amountCents, currency, reference, idempotencyKey } = request;
      // One signal for the request and the body: a provider that sends headers and then stalls is no answer either.
      const signal = AbortSignal.timeout(timeoutMs);
      let response: Response;
      let text: string;
      try {
        response = await fetch(chargesUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': idempotencyKey },
          body: JSON.stringify({ customerId, amount: amountCents, currency, reference }),
          signal,
        });
        // Reading every body to its end is what lets undici put the connection back in the keep-alive pool.
        text = await response.text();
      } catch (err) {
        throw noAnswer(err, timeoutMs);
      }

      if (response.ok) {
        const parsed = chargeAnswer.safeParse(parseJson(text));
        if (!parsed.success) {
          throw new NetworkError(`payment provider answered ${response.status} with an unexpected body: ${excerpt(text)}`);
        }
        return { charged: parsed.data.charged, chargeId: parsed.data.id };
      }
      if (response.status === 404) throw new CustomerNotFoundError(customerId);
      if (response.status === 409) throw new CurrencyMismatchError(customerId, currency);
      // 429, 5xx and whatever else the contract does not name: the charge may or may not have happened, so retry with the key.
      throw new NetworkError(
        `payment provider answered ${response.status}${text ? `: ${excerpt(text)}` : ''}`,
        parseRetryAfter(response.headers.get('retry-after')),
      );
    },
  };
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

// fetch rejects with a bare "fetch failed"; what went wrong (ECONNREFUSED, a reset socket) is in its cause.
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  if (!cause) return err.message;
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
