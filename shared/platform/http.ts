// HTTP client pieces: one POST with a whole-attempt deadline, no redirects and a pluggable DNS lookup; reading Retry-After; why a fetch got no answer.
import http from 'node:http';
import https from 'node:https';

export interface PostResult {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
}

export interface PostOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  lookup?: http.RequestOptions['lookup'];
}

/** Resolves with the status once the response has fully arrived (its body is read and dropped); rejects on network errors and timeouts. */
export function postJson(url: URL, body: string, options: PostOptions): Promise<PostResult> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...options.headers },
        lookup: options.lookup,
        agent: false,
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, headers: response.headers }));
        response.on('error', reject);
      },
    );
    request.on('error', (err) => reject(err.name === 'AbortError' ? new Error(`no answer within ${options.timeoutMs} ms`) : err));
    request.end(body);
  });
}

/** Reads an HTTP Retry-After value (seconds or an HTTP date) as milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Why a fetch got no answer: its deadline passed, or the socket's own error code. fetch wraps what went wrong ("fetch
 * failed", "terminated"); the socket's error, with its code, is in the cause.
 */
export function fetchFailure(err: unknown): { timedOut: boolean; reason: string } {
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') return { timedOut: true, reason: 'no answer in time' };
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (!(inner instanceof Error)) return { timedOut: false, reason: String(inner) };
  const { code } = inner as { code?: string };
  if (!code) return { timedOut: false, reason: inner.message };
  return { timedOut: false, reason: inner.message.includes(code) ? code : `${code} (${inner.message})` };
}
