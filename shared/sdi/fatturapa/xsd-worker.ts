// A thread of the XSD pool (xsd.ts): runs xmllint's WebAssembly in this very thread, its module compiled and the schemas read once per thread.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { workerData } from 'node:worker_threads';

export interface XsdWorkerData {
  schemaDir: string;
  /** Every schema file, given to xmllint with each document: the one named, and the ones it imports. */
  schemas: string[];
  /** xmllint-wasm's Emscripten module (resolved by the pool, which knows where node_modules is). */
  xmllint: string;
}

/** One error xmllint reported (xsd.ts re-exports it as XsdError). */
export interface XsdError {
  /** The document line the error is on, when xmllint reports one. */
  line: number | null;
  message: string;
}

export interface XsdTask {
  xml: string | Uint8Array;
  /** The file name of the schema to check against, one of `schemas`. */
  schema: string;
  fileName: string;
}

export interface XsdTaskResult {
  valid: boolean;
  errors: XsdError[];
  /** When the run began and ended, in milliseconds of the process-wide monotonic clock. */
  startedAt: number;
  finishedAt: number;
}

interface InputFile {
  fileName: string;
  contents: string | Uint8Array;
}

// The project's lib (ES2023, no DOM) has no WebAssembly types: the little used here, typed by hand.
type WasmModule = object;
type WasmInstance = object;
interface Wasm {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (limits: { initial: number; maximum: number }) => object;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

/** The few options of xmllint-wasm's Emscripten module this thread uses. */
interface XmllintRun {
  inputFiles: InputFile[];
  arguments: string[];
  print(text: string): void;
  printErr(text: string): void;
  onExit(code: number): void;
  onAbort(reason: unknown): void;
  wasmMemory: object;
  instantiateWasm(imports: object, done: (instance: WasmInstance, module: WasmModule) => void): object;
}

const data = workerData as XsdWorkerData;
// xmllint-wasm's own validateXML starts a thread for every call; its module can instead run here, once per
// document. Loading it also adds a listener to this thread's parentPort that ignores every message not tagged for
// it: harmless, as piscina keeps this thread alive anyway.
const runXmllint = createRequire(data.xmllint)(data.xmllint) as (run: XmllintRun) => Promise<unknown>;
const compiled = new wasm.Module(readFileSync(join(dirname(data.xmllint), 'xmllint.wasm')));
const schemaFiles: InputFile[] = data.schemas.map((fileName) => ({ fileName, contents: readFileSync(join(data.schemaDir, fileName)) }));

// 16 MiB to start, 32 MiB at most: xmllint-wasm's defaults, plenty for an invoice.
const MEMORY = { initial: 256, maximum: 512 };

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function validate({ xml, schema, fileName }: XsdTask): Promise<XsdTaskResult> {
  const startedAt = now();
  let stderr = '';
  let exitCode: number | undefined;
  let failure: unknown;
  await new Promise<void>((settled) => {
    const fail = (err: unknown) => {
      failure ??= err;
      settled();
    };
    runXmllint({
      inputFiles: [{ fileName, contents: xml }, ...schemaFiles],
      arguments: ['--schema', schema, '--noout', fileName],
      print() {},
      printErr(text) {
        stderr += `${text}\n`;
      },
      onExit(code) {
        exitCode = code;
      },
      onAbort: (reason) => fail(new Error(`xmllint aborted: ${String(reason)}`)),
      wasmMemory: new wasm.Memory(MEMORY),
      instantiateWasm(imports, done) {
        wasm.instantiate(compiled, imports).then((instance) => done(instance, compiled), fail);
        return {};
      },
    }).then(() => settled(), fail);
  });
  if (failure) throw failure;
  // As xmllint-wasm reads it: 0 valid, 3 or 4 invalid (or not well-formed), anything else a failure to check.
  if (exitCode !== 0 && exitCode !== 3 && exitCode !== 4) throw new Error(`xmllint exited with ${exitCode}: ${stderr.trim()}`);
  const valid = exitCode === 0;
  return { valid, errors: valid ? [] : parseErrors(stderr), startedAt, finishedAt: now() };
}

// A thread's first run is several times slower than the next ones (the engine optimises xmllint's code as it runs):
// one is made before the thread takes tasks (piscina awaits this export), so no document pays for it against its deadline.
export default validate({ xml: '<warm-up/>', schema: 'MessaggiTypes_v1.1.xsd', fileName: 'warm-up.xml' }).then(() => validate);

/** xmllint's report, line by line, as xmllint-wasm parses it: "file:line: message", and its last line dropped. */
function parseErrors(output: string): XsdError[] {
  return output
    .split('\n')
    .slice(0, -2)
    .map((line) => {
      const [file, lineNumber, ...rest] = line.split(':');
      return file && lineNumber && rest.length
        ? { line: parseInt(lineNumber, 10), message: rest.join(':').trim() }
        : { line: null, message: line.trim() };
    })
    .filter((e) => !(e.line === null && e.message.endsWith(' validates')));
}
