// XSD validation of FatturaPA invoices and SdI receipts with xmllint (libxml2 in WebAssembly) on a bounded pool of threads: a fixed number run, a few wait, none waits for ever.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { RetryableError } from '../../platform/errors/retryable.js';
import { DependencyUnavailableError } from '../../platform/errors/unavailable.js';
import type { Logger } from '../../platform/logger.js';
import type { XsdError, XsdTask, XsdTaskResult, XsdWorkerData } from './xsd-worker.js';

export const INVOICE_XSD = 'Schema_del_file_xml_FatturaPA_v1.2.2.xsd';
export const MESSAGES_XSD = 'MessaggiTypes_v1.1.xsd';
export const DSIG_XSD = 'xmldsig-core-schema.xsd';

export type XsdName = typeof INVOICE_XSD | typeof MESSAGES_XSD;

export type { XsdError } from './xsd-worker.js';

export interface XsdResult {
  valid: boolean;
  errors: XsdError[];
}

/** Checks documents against the SdI schemas. Built once per process (queues/wiring.ts) and closed with it. */
export interface XsdValidator {
  /** Validates one document against one of the SdI schemas; throws XsdUnavailableError when the pool is full or too slow. */
  validate(xml: string | Uint8Array, schema: XsdName, fileName?: string): Promise<XsdResult>;
  /** Stops the threads; a validation asked for afterwards fails with XsdUnavailableError. */
  close(): Promise<void>;
}

export interface XsdPoolStats {
  /** Threads at most, each running one validation at a time. */
  size: number;
  /** Validations that may wait beyond those running. */
  queue: number;
  threads: number;
  /** Validations running or waiting now. */
  inFlight: number;
  completed: number;
  /** The most validations seen running at the same moment, from what the threads report. */
  peakRunning: number;
}

/** The validator createXsdValidator builds: its threads can be counted. */
export type XsdPool = XsdValidator & { stats(): XsdPoolStats };

export interface XsdPoolOptions {
  /** Validations that run at once, each on its own thread. @defaultValue `min(2, cores)` */
  size?: number;
  /** Validations that may wait for a thread; one more is refused at once. @defaultValue `64` */
  queue?: number;
  /** How long one validation may wait and run, together, before it is abandoned (its thread is stopped). @defaultValue `10000` */
  timeoutMs?: number;
  /** How long an idle thread is kept before it stops; the next validation starts a new one. @defaultValue `60000` */
  idleTimeoutMs?: number;
  /** Where the schemas are. @defaultValue `./xsd/` beside this file */
  dir?: string;
  /** Reports a thread that failed between tasks. */
  log?: Logger;
}

/** The pool could not validate in time, or had no room to queue: a client should retry later (503), a job again. */
export class XsdUnavailableError extends RetryableError {
  override name = 'XsdUnavailableError';
  constructor(reason: string, retryAfterMs: number, cause?: unknown) {
    super(`XSD validation unavailable: ${reason}`, retryAfterMs);
    // The cause is what api/errors.ts recognises as "a dependency is down", and answers 503 with Retry-After.
    this.cause = new DependencyUnavailableError('xsd-validator', cause);
  }
}

// The schemas ship beside this file; compiled code in dist/ finds them in the source tree it was built from.
function schemaDir(): string {
  for (const candidate of ['./xsd/', '../../../../shared/sdi/fatturapa/xsd/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(dir + INVOICE_XSD)) return dir;
  }
  throw new Error('FatturaPA schemas not found beside shared/sdi/fatturapa/xsd.ts');
}

// The thread's code sits beside this file with the same extension: xsd-worker.ts under tsx (threads inherit its
// --import), xsd-worker.js once built to dist/.
const WORKER_FILE = new URL(`./xsd-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * A pool of threads that run xmllint in-thread, one validation per thread at a time. It starts no thread until the
 * first validation, so a process that never validates pays nothing; idle threads stop after `idleTimeoutMs` and never
 * keep the process alive.
 */
export function createXsdValidator(options: XsdPoolOptions = {}): XsdPool {
  const size = options.size ?? Math.min(2, availableParallelism());
  const queue = options.queue ?? 64;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const workerData: XsdWorkerData = {
    schemaDir: options.dir ?? schemaDir(),
    schemas: [INVOICE_XSD, MESSAGES_XSD, DSIG_XSD],
    xmllint: createRequire(import.meta.url).resolve('xmllint-wasm/xmllint-node.js'),
  };
  const pool = new Piscina<XsdTask, XsdTaskResult>({
    filename: WORKER_FILE.href,
    minThreads: 0,
    maxThreads: size,
    idleTimeout: options.idleTimeoutMs ?? 60_000,
    workerData,
  });
  pool.on('error', (err: unknown) => options.log?.warn({ err }, 'an XSD validation thread failed'));

  // The last runs as the threads timed them, to tell how many overlapped: what the pool promises, measured.
  const recent: { from: number; to: number }[] = [];
  let peakRunning = 0;
  const record = (from: number, to: number) => {
    recent.push({ from, to });
    if (recent.length > 4 * size + 16) recent.shift();
    for (const { from: at } of recent) peakRunning = Math.max(peakRunning, recent.filter((r) => r.from <= at && at < r.to).length);
  };

  // Counted here: piscina's maxQueue does not apply to tasks with an AbortSignal (they wait in a queue of their own).
  let inFlight = 0;
  const running = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;
  return {
    async validate(xml, schema, fileName = 'document.xml') {
      if (closing) throw new XsdUnavailableError('the validator is closed', timeoutMs);
      if (inFlight >= size + queue) throw new XsdUnavailableError(`${size} running and ${queue} waiting already`, timeoutMs);
      // xmllint reads UTF-8 only, and trips over the byte-order mark some producers prepend.
      const contents = typeof xml === 'string' ? xml.replace(/^\uFEFF/, '') : xml;
      let outcome: XsdTaskResult;
      inFlight += 1;
      try {
        const run = pool.run({ xml: contents, schema, fileName: safeName(fileName) }, { signal: AbortSignal.timeout(timeoutMs) });
        running.add(run);
        void run.catch(() => undefined).finally(() => running.delete(run));
        outcome = await run;
      } catch (err) {
        if ((err as Error)?.name === 'AbortError') throw new XsdUnavailableError(`no result within ${timeoutMs} ms`, timeoutMs, err);
        throw err;
      } finally {
        inFlight -= 1;
      }
      record(outcome.startedAt, outcome.finishedAt);
      return { valid: outcome.valid, errors: outcome.errors };
    },
    stats: () => ({ size, queue, threads: pool.threads.length, inFlight, completed: pool.completed, peakRunning }),
    close() {
      // Validations already running finish (each within its timeout) before the threads stop: a shutdown that
      // terminated them would fail a request or a job that was about to succeed.
      closing ??= Promise.allSettled([...running]).then(() => pool.destroy());
      return closing;
    },
  };
}

// xmllint would read a name starting with a dash as an option, and the name is only used in messages.
const safeName = (name: string) => (/^[A-Za-z0-9_.]{1,60}$/.test(name) ? name : 'document.xml');
