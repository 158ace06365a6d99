// The app on a local port behind a recorder of every 5xx answer: method, url, the request body as read, the answer's body.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One answer with a status of 500 or more, and what it answered to. */
export interface ServerError {
  status: number;
  method: string;
  url: string;
  /** The request id the app logged the error under (its `x-request-id`). */
  requestId: string | undefined;
  requestBody: string;
  responseBody: string;
}

export interface RecordingServer {
  url: string;
  /** Every 5xx so far, in the order they were answered. */
  errors: ServerError[];
  /** Every answer so far. */
  answered(): number;
  close(): Promise<void>;
}

/** Enough of a body to see what provoked the error; the rest is cut. */
const KEPT_BYTES = 4096;

/** Collects the chunks a stream emits, whoever reads them, without reading it itself (which would change when it flows). */
function recordChunks(stream: IncomingMessage | ServerResponse, method: 'emit' | 'write' | 'end'): () => string {
  const chunks: Buffer[] = [];
  let kept = 0;
  const keep = (chunk: unknown) => {
    if (kept >= KEPT_BYTES || (typeof chunk !== 'string' && !Buffer.isBuffer(chunk))) return;
    const buffer = Buffer.from(chunk);
    chunks.push(buffer);
    kept += buffer.length;
  };
  const original = (stream as unknown as Record<string, (...args: unknown[]) => unknown>)[method]!;
  (stream as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    if (method !== 'emit') keep(args[0]);
    else if (args[0] === 'data') keep(args[1]);
    return original.apply(this, args);
  };
  return () => Buffer.concat(chunks).toString('utf8').slice(0, KEPT_BYTES);
}

/** Listens on 127.0.0.1, a free port, and hands every request to `app` unchanged. */
export async function listenRecordingErrors(app: RequestListener): Promise<RecordingServer> {
  const errors: ServerError[] = [];
  let answers = 0;
  const server: Server = createServer((req, res) => {
    const requestBody = recordChunks(req, 'emit');
    const writtenBody = recordChunks(res, 'write');
    const endedBody = recordChunks(res, 'end');
    res.once('finish', () => {
      answers += 1;
      if (res.statusCode < 500) return;
      const error: ServerError = {
        status: res.statusCode,
        method: req.method ?? '?',
        url: req.url ?? '?',
        requestId: res.getHeader('x-request-id')?.toString(),
        requestBody: requestBody(),
        responseBody: writtenBody() + endedBody(),
      };
      errors.push(error);
      console.error(`5xx: ${error.status} ${error.method} ${error.url} (request ${error.requestId})\n  body: ${error.requestBody || '(none read)'}\n  answer: ${error.responseBody}`);
    });
    app(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    errors,
    answered: () => answers,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
