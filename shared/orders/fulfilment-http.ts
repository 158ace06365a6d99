// A FulfilmentService over HTTP: POST /fulfilments with an Idempotency-Key to any server that speaks the fulfilment contract.
import { formatCents } from '../platform/money.js';
import { fetchFailure, parseRetryAfter } from '../platform/http.js';
import { FulfilmentRefusedError, FulfilmentUnavailableError, type FulfilmentService } from './fulfilment.js';

export interface HttpFulfilmentOptions {
  /** Where the service lives; `/fulfilments` is appended, with or without a trailing `/` here. */
  baseUrl: string;
  /** How long one call may take, answer body included, before it counts as no answer. */
  timeoutMs: number;
}

/** How long to wait before retrying a key the service is still processing, when its 409 carries no Retry-After. */
const KEY_IN_USE_RETRY_MS = 1000;

/** A response read to its end. */
interface Answer {
  status: number;
  /** The Retry-After header as sent, seconds or an HTTP date. */
  retryAfter: string | null;
  /** The whole body; not parsed yet, since an error excerpt needs it as sent. */
  text: string;
}

export function createHttpFulfilmentService(options: HttpFulfilmentOptions): FulfilmentService {
  const fulfilmentsUrl = new URL(`${options.baseUrl.replace(/\/+$/, '')}/fulfilments`);
  const { timeoutMs } = options;

  /** Resolves with any status; rejects only when there is no usable answer (no response, or a body cut short). */
  async function post(body: string, idempotencyKey: string): Promise<Answer> {
    // fetch rather than node:http's pool (as the payment client uses): one call per paid order is no hot path. The
    // signal stays on the body stream, so this one timer covers connecting, sending and reading the whole answer: a
    // service that sends headers and then stalls is no answer either.
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetch(fulfilmentsUrl, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body,
        // A redirect means a wrong FULFILMENT_URL; following it would send the order somewhere nobody checked.
        redirect: 'manual',
        signal,
      });
    } catch (err) {
      throw noAnswer(err, timeoutMs, 'fulfilment service unreachable');
    }
    try {
      return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
    } catch (err) {
      throw noAnswer(err, timeoutMs, `fulfilment service answered ${response.status} but the body was cut short`);
    }
  }

  return {
    async fulfil(request) {
      const { orderId, customerId, amountCents, currency, idempotencyKey } = request;
      const body = JSON.stringify({ orderId, customerId, amount: formatCents(amountCents), currency });
      const answer = await post(body, idempotencyKey);
      const { status, text } = answer;
      // 2xx is the order fulfilled, whatever else the body says: a body we cannot read must not make us retry (the
      // key would replay the same body forever) nor refund an order that was shipped.
      if (status >= 200 && status < 300) return { id: idOf(text) };
      const { code, message } = refusal(text);
      if (status === 409 && code === 'idempotency_key_in_use') {
        throw new FulfilmentUnavailableError(
          `fulfilment service is still processing a request with the idempotency key ${idempotencyKey}; retry later`,
          parseRetryAfter(answer.retryAfter) ?? KEY_IN_USE_RETRY_MS,
        );
      }
      // 408 and 429 are about this attempt, not the order; every other 4xx says the order or our request is wrong.
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        throw new FulfilmentRefusedError(status, code, excerpt(message ?? text));
      }
      // 5xx, 408, 429, and anything the contract does not name (1xx, 3xx): it may or may not have been fulfilled.
      throw new FulfilmentUnavailableError(
        `fulfilment service answered ${status}${code ? ` ${code}` : ''}${text ? `: ${excerpt(text)}` : ''}`,
        parseRetryAfter(answer.retryAfter),
      );
    },
  };
}

function idOf(text: string): string | null {
  const id = (parseJson(text) as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id.length > 0 ? id : null;
}

/** The contract's error body, `{ error: { code, message? } }`; anything else (an HTML page from a wrong URL) has no code. */
function refusal(text: string): { code?: string; message?: string } {
  const error = (parseJson(text) as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error !== 'object' || error === null || typeof error.code !== 'string') return {};
  return { code: error.code, message: typeof error.message === 'string' ? error.message : undefined };
}

function noAnswer(err: unknown, timeoutMs: number, what: string): FulfilmentUnavailableError {
  const failure = fetchFailure(err);
  const error = new FulfilmentUnavailableError(failure.timedOut ? `fulfilment service gave no answer within ${timeoutMs} ms` : `${what}: ${failure.reason}`);
  error.cause = err;
  return error;
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
