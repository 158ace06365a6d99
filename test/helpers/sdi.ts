// A test system wired to a real SdI simulator: the API listening on a port, SMTP_URL pointing at the simulator.
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/redis-server.js';
import { SdiSimulator } from '../../scripts/sandboxes/sdi-simulator.js';
import { addUser } from './fixtures.js';
import { createTestSystem, type TestSystem } from './system.js';

export interface SdiTestSystem {
  system: TestSystem;
  /** Authorization header of an operator, the key the simulator posts receipts with. */
  operatorAuth: string;
  apiUrl: string;
  inboxDir: string;
  smtpPort: number;
  simulator(): SdiSimulator | undefined;
  /** Starts (or restarts) the simulator on the system's SMTP port. */
  startSmtp(): Promise<SdiSimulator>;
  /** Stops the simulator: the SMTP server is down until startSmtp. */
  stopSmtp(): Promise<void>;
  close(): Promise<void>;
}

export async function createSdiTestSystem(
  env: Record<string, string> = {},
  options: { smtpRunning?: boolean; simulatorDelayMs?: number; redisUrl?: string } = {},
): Promise<SdiTestSystem> {
  const smtpPort = await freePort();
  const inboxDir = await mkdtemp(join(tmpdir(), 'antaeus-sdi-inbox-'));
  const system = await createTestSystem({ SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, SMTP_TIMEOUT_MS: '2000', ...env }, { redisUrl: options.redisUrl });
  const { apiKey, auth } = await addUser(system.ctx.db, 'operator');
  const server: Server = system.app.listen(0);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let simulator: SdiSimulator | undefined;

  const sdi: SdiTestSystem = {
    system,
    operatorAuth: auth,
    apiUrl,
    inboxDir,
    smtpPort,
    simulator: () => simulator,
    async startSmtp() {
      simulator = await SdiSimulator.start({ inboxDir, apiUrl, apiKey, delayMs: options.simulatorDelayMs ?? 20, port: smtpPort, log: system.ctx.log });
      return simulator;
    },
    async stopSmtp() {
      await simulator?.close();
      simulator = undefined;
    },
    async close() {
      await simulator?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await system.close();
      await rm(inboxDir, { recursive: true, force: true });
    },
  };
  if (options.smtpRunning !== false) await sdi.startSmtp();
  return sdi;
}
