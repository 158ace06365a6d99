// A DataProvider over HTTP: GET the configured URL with one deadline for the whole answer, read at most the size cap, and classify what came back.
import { fetchFailure, parseRetryAfter } from '../platform/http.js';
import { ProviderRefusedError, ProviderUnavailableError, type DataProvider } from './provider.js';

export interface HttpDataProviderOptions {
  /** What the provider's logs and our errors call it, e.g. `gas provider`. */
  name: string;
  /** The URL GET is sent to, as configured. */
  url: string;
  /** Connecting, sending and reading the whole answer, before the call counts as no answer. */
  timeoutMs: number;
  /** The largest answer read; a larger one is refused. */
  maxBytes: number;
}

export function createHttpDataProvider(options: HttpDataProviderOptions): DataProvider {
  const { name, timeoutMs, maxBytes } = options;
  const url = new URL(options.url);

  return {
    async fetchDocument(requestId) {
      // One signal for the whole call (the body stream included): a provider that sends headers and stalls is no answer.
      const stop = new AbortController();
      const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stop.signal]);
      let response: Response;
      try {
        // A redirect means a wrong URL in our configuration: following it would fetch from somewhere nobody checked.
        response = await fetch(url, { headers: { accept: 'application/json', 'x-request-id': requestId }, redirect: 'manual', signal });
      } catch (err) {
        throw noAnswer(name, err, timeoutMs);
      }
      const { status } = response;
      if (status === 408 || status === 429 || status >= 500) {
        await response.body?.cancel().catch(() => undefined);
        throw new ProviderUnavailableError(`${name} answered ${status}`, status, parseRetryAfter(response.headers.get('retry-after')));
      }
      if (status < 200 || status >= 300) {
        await response.body?.cancel().catch(() => undefined);
        throw new ProviderRefusedError(`${name} answered ${status}: not retried, the request or our configuration is wrong`, status);
      }
      const length = Number(response.headers.get('content-length'));
      if (length > maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLarge(name, status, maxBytes);
      }
      const type = response.headers.get('content-type');
      // No content type is read as JSON if it parses; a type that says otherwise (an HTML error page) is not.
      if (type && !/^application\/(?:[\w.+-]*\+)?json\b/i.test(type)) {
        await response.body?.cancel().catch(() => undefined);
        throw new ProviderRefusedError(`${name} answered ${status} with ${type.split(';')[0]}, not JSON`, status);
      }
      let text: string;
      try {
        text = await readCapped(response, name, maxBytes, stop);
      } catch (err) {
        if (err instanceof ProviderRefusedError) throw err;
        throw noAnswer(name, err, timeoutMs, `${name} answered ${status} but the body was cut short`);
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new ProviderRefusedError(`${name} answered ${status} with a body that is not JSON`, status);
      }
      if (typeof data !== 'object' || data === null) throw new ProviderRefusedError(`${name} answered ${status} with JSON that is not a document (an object or an array)`, status);
      return { statusCode: status, data };
    },
  };
}

/** The body as text, refused once it passes `maxBytes` (the rest is not read). */
async function readCapped(response: Response, name: string, maxBytes: number, stop: AbortController): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      stop.abort();
      throw tooLarge(name, response.status, maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(name: string, status: number, maxBytes: number): ProviderRefusedError {
  return new ProviderRefusedError(`${name} answered ${status} with more than ${maxBytes} bytes (COLLECT_MAX_BYTES)`, status);
}

function noAnswer(name: string, err: unknown, timeoutMs: number, what = `${name} unreachable`): ProviderUnavailableError {
  const failure = fetchFailure(err);
  const error = new ProviderUnavailableError(failure.timedOut ? `${name} gave no answer within ${timeoutMs} ms` : `${what}: ${failure.reason}`, null);
  error.cause = err;
  return error;
}
