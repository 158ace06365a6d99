// A real local HTTP server standing in for a client's callback endpoint: records requests, answers as scripted.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './wait.js';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
}

export type Responder = (request: Received, index: number) => Reply | Promise<Reply>;

export class Receiver {
  readonly requests: Received[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(respond: Responder = () => ({ status: 204 })): Promise<Receiver> {
    const requests: Received[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', async () => {
        const received = { path: req.url ?? '/', headers: req.headers, body, at: Date.now() };
        requests.push(received);
        try {
          const reply = await respond(received, requests.length - 1);
          res.writeHead(reply.status, reply.headers).end();
        } catch {
          res.destroy();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new Receiver(server, (server.address() as AddressInfo).port);
    (receiver as { requests: Received[] }).requests = requests;
    return receiver;
  }

  url(path = '/hooks/antaeus'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async waitForRequests(count: number, timeoutMs = 10_000): Promise<Received[]> {
    return waitFor(() => this.requests.length >= count && this.requests, { timeoutMs, what: `${count} callback requests` });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
