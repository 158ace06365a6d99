// Hostile XML at the receipt endpoint: refused within a second while the process keeps answering, too big is 413, no file name tells one tenant about another, validation bounded.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { expect } from 'chai';
import { encodeProgressive, sdiFileName } from '../../shared/sdi/fatturapa/file-name.js';
import { MESSAGES_NAMESPACE } from '../../shared/sdi/fatturapa/messages.js';
import { INVOICE_XSD, type XsdPool } from '../../shared/sdi/fatturapa/xsd.js';
import { transmitterOf } from '../../shared/sdi/seller.js';
import { addCustomer, addUser } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { keptReceipts, receiptXml, sentInvoice } from './sent-invoices.js';

const RECEIPT_LIMIT = 128 * 1024;

/** `unit(i)` repeated between `open` and `close` to just under `limit` bytes (ASCII). */
function justUnderLimit(open: string, unit: (i: number) => string, close: string, limit = RECEIPT_LIMIT): string {
  const parts = [open];
  let size = open.length + close.length;
  for (let i = 0; size + unit(i).length < limit - 256; i++) {
    parts.push(unit(i));
    size += unit(i).length;
  }
  return parts.join('') + close;
}

const root = `<?xml version="1.0" encoding="UTF-8"?><types:RicevutaConsegna xmlns:types="${MESSAGES_NAMESPACE}" versione="1.0"`;
/** What made the old parser quadratic: one element with thousands of attributes. */
const manyAttributes = justUnderLimit(root, (i) => ` a${i}="x"`, '><NomeFile>IT01234567897_00001.xml</NomeFile></types:RicevutaConsegna>');
/** What overflowed its stack: elements nested some 18,000 deep. */
const deepNesting = (() => {
  const depth = Math.floor((RECEIPT_LIMIT - 512) / '<a></a>'.length);
  return `${root}>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</types:RicevutaConsegna>`;
})();
/** Breadth instead: tens of thousands of sibling elements. */
const manyElements = justUnderLimit(`${root}>`, () => '<Errore/>', '</types:RicevutaConsegna>');

const sample = readFileSync(new URL('../fixtures/fatturapa/IT01234567890_FPR01.xml', import.meta.url), 'utf8');
const line = sample.match(/<DettaglioLinee>[\s\S]*?<\/DettaglioLinee>/)![0];

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

describe('hostile XML receipts', function () {
  this.timeout(30_000);
  const opened = closedAfterEach();
  let system: TestSystem;
  let base: string;
  let client: { auth: string; userId: string };
  let clientCustomer: string;

  /** A system listening on a port of its own, and a client (one tenant) with one customer. */
  async function start(env: Record<string, string> = {}) {
    system = opened(await createTestSystem(env));
    const server = system.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    opened({
      close: () =>
        new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    clientCustomer = await addCustomer(system.ctx.db);
    client = await addUser(system.ctx.db, 'client', [clientCustomer]);
  }

  /** One request on a connection of its own unless `agent` says otherwise; the answer whole, and how long it took. */
  function send(path: string, options: { body?: string | Buffer; auth?: string; agent?: http.Agent } = {}): Promise<Answer> {
    const started = performance.now();
    const headers: Record<string, string> = options.body === undefined ? {} : { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(options.body)) };
    if (options.auth) headers.authorization = options.auth;
    return new Promise((resolve, reject) => {
      const req = http.request(`${base}${path}`, { method: options.body === undefined ? 'GET' : 'POST', headers, agent: options.agent ?? false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(options.body);
    });
  }

  const postReceipt = (body: string, auth = client.auth) => send('/v1/sdi/notifications', { body, auth });
  const errorOf = (answer: Answer) => (JSON.parse(answer.body.toString()) as { error: { code: string; message: string } }).error;

  /**
   * Runs `work` while /healthz is asked again and again on another connection, and the event loop's delays are
   * measured: how long the slowest health answer took, and the longest the loop was kept from turning.
   */
  async function whileProbingHealth<T>(work: () => Promise<T>): Promise<{ result: T; probes: number; slowestHealthMs: number; loopBlockedMs: number }> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await send('/healthz', { agent })).status).to.equal(200);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    let done = false;
    let probes = 0;
    let slowestHealthMs = 0;
    const probing = (async () => {
      while (!done) {
        const health = await send('/healthz', { agent });
        expect(health.status).to.equal(200);
        slowestHealthMs = Math.max(slowestHealthMs, health.ms);
        probes += 1;
      }
    })();
    try {
      const result = await work();
      done = true;
      await probing;
      return { result, probes, slowestHealthMs, loopBlockedMs: loop.max / 1e6 };
    } finally {
      done = true;
      loop.disable();
      agent.destroy();
    }
  }

  for (const [what, body] of [
    ['thousands of attributes on one element', manyAttributes],
    ['elements nested thousands deep', deepNesting],
    ['tens of thousands of elements', manyElements],
  ] as const) {
    it(`refuses ${what}, just under the size limit, within a second while /healthz answers within 100 ms`, async () => {
      await start();
      expect(Buffer.byteLength(body)).to.be.within(RECEIPT_LIMIT - 1024, RECEIPT_LIMIT);
      const { result: answer, probes, slowestHealthMs, loopBlockedMs } = await whileProbingHealth(() => postReceipt(body));
      expect(answer.status).to.equal(400);
      expect(errorOf(answer).code).to.equal('invalid_receipt');
      expect(answer.ms).to.be.below(1000);
      expect(probes).to.be.at.least(1);
      expect(slowestHealthMs).to.be.below(100);
      expect(loopBlockedMs).to.be.below(100);
      expect(await keptReceipts(system)).to.equal(0);
    });
  }

  it('answers 413 to a megabyte of hostile XML within a second, and keeps nothing', async () => {
    await start();
    const megabyte = justUnderLimit(root, (i) => ` a${i}="x"`, '/>', 1024 * 1024);
    expect(Buffer.byteLength(megabyte)).to.be.above(1000 * 1024);
    const answer = await postReceipt(megabyte);
    expect(answer.status).to.equal(413);
    expect(errorOf(answer)).to.deep.equal({ code: 'payload_too_large', message: 'an SdI receipt is at most 128 KB', details: null });
    expect(answer.ms).to.be.below(1000);
    expect(await keptReceipts(system)).to.equal(0);
  });

  it('answers byte for byte the same for another customer’s file as for a file nobody sent, and keeps neither', async () => {
    await start();
    const operator = await addUser(system.ctx.db, 'operator');
    const otherCustomer = await addCustomer(system.ctx.db);
    // File names are sequential: the next one is known before the other customer's invoice is sent under it.
    const next = sdiFileName(transmitterOf(system.config), encodeProgressive(1));
    const xml = receiptXml({ type: 'RicevutaConsegna', fileName: next });
    const unknown = await postReceipt(xml);
    const theirs = await sentInvoice(system, otherCustomer, operator.userId);
    expect(theirs.fileName).to.equal(next);
    const foreign = await postReceipt(xml);

    expect(unknown.status).to.equal(404);
    expect(foreign.status).to.equal(unknown.status);
    expect(foreign.headers['content-type']).to.equal(unknown.headers['content-type']);
    expect(foreign.body.equals(unknown.body), `${foreign.body} vs ${unknown.body}`).to.equal(true);
    expect(errorOf(foreign)).to.include({ code: 'not_found', message: `no invoice you can see was sent as ${next}` });
    expect(await keptReceipts(system)).to.equal(0);
    // The owner's side of the same receipt is accepted: the file was real all along.
    expect((await postReceipt(xml, operator.auth)).status).to.equal(202);
  });

  it('runs at most XSD_POOL_SIZE validations at once for 40 receipts at once, all accepted, memory bounded', async () => {
    await start({ XSD_POOL_SIZE: '2' });
    const invoice = await sentInvoice(system, clientCustomer, client.userId);
    const xml = receiptXml({ type: 'RicevutaConsegna', fileName: invoice.fileName });
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampling = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 10);
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, () => postReceipt(xml)));
      expect(answers.map((a) => a.status)).to.deep.equal(Array(40).fill(202));
    } finally {
      clearInterval(sampling);
    }
    const stats = (system.ctx.xsd as XsdPool).stats();
    expect(stats.completed).to.equal(40);
    expect(stats.peakRunning).to.be.within(1, 2);
    expect(stats.threads).to.be.at.most(2);
    // One thread per receipt took some 23 MiB each (936 MiB for 40); two threads take a small part of that.
    expect((rssPeak - rssBefore) / 2 ** 20).to.be.below(200);
  });

  it('answers 503 with Retry-After when validation does not finish within XSD_TIMEOUT_MS, and keeps nothing', async () => {
    await start({ XSD_TIMEOUT_MS: '1' });
    const invoice = await sentInvoice(system, clientCustomer, client.userId);
    const answer = await postReceipt(receiptXml({ type: 'RicevutaConsegna', fileName: invoice.fileName }));
    expect(answer.status).to.equal(503);
    expect(answer.headers['retry-after']).to.match(/^\d+$/);
    expect(errorOf(answer).code).to.equal('service_unavailable');
    expect(await keptReceipts(system)).to.equal(0);
  });

  it('answers 503 with Retry-After at once when every thread is busy and the queue is full, and keeps nothing', async () => {
    await start({ XSD_POOL_SIZE: '1', XSD_QUEUE_SIZE: '0' });
    const invoice = await sentInvoice(system, clientCustomer, client.userId);
    // The one thread busy for some hundreds of milliseconds with a 20,000-line invoice.
    const busy = system.ctx.xsd.validate(sample.replace(line, line.repeat(20_000)), INVOICE_XSD);
    const answer = await postReceipt(receiptXml({ type: 'RicevutaConsegna', fileName: invoice.fileName }));
    expect(answer.status).to.equal(503);
    expect(answer.headers['retry-after']).to.match(/^\d+$/);
    expect(answer.ms).to.be.below(1000);
    expect(await keptReceipts(system)).to.equal(0);
    expect((await busy).valid).to.equal(true);
    // With the thread free again the same receipt goes through.
    expect((await postReceipt(receiptXml({ type: 'RicevutaConsegna', fileName: invoice.fileName }))).status).to.equal(202);
  });
});
