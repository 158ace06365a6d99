// The SMTP circuit breaker: an outage is probed, not hammered; a refused message does not trip it; it closes on recovery.
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { UnrecoverableError } from 'bullmq';
import { expect } from 'chai';
import { loadConfig } from '../../shared/platform/config.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { createLogger } from '../../shared/platform/logger.js';
import { createSdiMailer, type SdiMailer } from '../../shared/sdi/mailer.js';
import { waitFor } from '../helpers/wait.js';

/** A bare SMTP peer that greets every connection with the given line and hangs up: a server in trouble. */
async function greetingServer(greeting: string): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.end(`${greeting}\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  }) as typeof server.close;
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

const file = { fileName: 'IT01234567897_00001.xml', xml: '<x/>' };

async function failure(send: Promise<unknown>): Promise<Error> {
  try {
    await send;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the send to fail');
}

describe('SMTP circuit breaker', () => {
  const log = createLogger(loadConfig({ LOG_LEVEL: 'silent' }), 'test');
  let mailer: SdiMailer | undefined;
  let peer: Awaited<ReturnType<typeof greetingServer>> | undefined;
  afterEach(async () => {
    mailer?.close();
    await new Promise((resolve) => peer?.server.close(resolve) ?? resolve(undefined));
    mailer = undefined;
    peer = undefined;
  });

  const mailerFor = (port: number, resetMs: number) =>
    createSdiMailer(
      { smtpUrl: `smtp://127.0.0.1:${port}`, smtpFrom: 'fatture@antaeus.example', smtpTimeoutMs: 2000, smtpBreakerResetMs: resetMs, sdiAddress: 'sdi01@pec.fatturapa.it' },
      log,
    );

  it('stops connecting after repeated failures and fails fast with a wait as long as the breaker stays open', async () => {
    peer = await greetingServer('421 4.3.2 Service not available');
    mailer = mailerFor(peer.port, 60_000);
    for (let i = 0; i < 3; i += 1) {
      const err = await failure(mailer.send(file));
      expect(err).to.be.instanceOf(RetryableError);
      expect(err.message).to.contain('SMTP send failed');
    }
    expect(mailer.open).to.equal(true);
    for (let i = 0; i < 20; i += 1) {
      const err = await failure(mailer.send(file));
      expect(err).to.be.instanceOf(RetryableError);
      expect((err as RetryableError).retryAfterMs).to.equal(60_000);
    }
    expect(peer.connections()).to.equal(3);

    // A job's last attempt still tries for real, once.
    const last = await failure(mailer.send(file, { finalAttempt: true }));
    expect(last.message).to.contain('SMTP send failed');
    expect(peer.connections()).to.equal(4);
  });

  it('treats a permanent refusal as unrecoverable, without tripping the breaker', async () => {
    peer = await greetingServer('554 5.7.1 No SMTP service here');
    mailer = mailerFor(peer.port, 60_000);
    for (let i = 0; i < 5; i += 1) expect(await failure(mailer.send(file))).to.be.instanceOf(UnrecoverableError);
    expect(mailer.open).to.equal(false);
    expect(peer.connections()).to.equal(5);
  });

  it('lets one trial through after the reset time, and opens again when the trial fails', async () => {
    peer = await greetingServer('421 4.3.2 Service not available');
    const port = peer.port;
    mailer = mailerFor(port, 100);
    for (let i = 0; i < 3; i += 1) await failure(mailer.send(file));
    expect(mailer.open).to.equal(true);

    // Half-open: exactly one trial reaches the server; it fails, so the breaker opens again.
    // (Closing on recovery is shown end to end by the SMTP outage test.)
    await waitFor(() => !mailer!.open || undefined, { what: 'half-open' });
    await failure(mailer.send(file));
    expect(peer.connections()).to.equal(4);
    expect(mailer.open).to.equal(true);
  });
});
