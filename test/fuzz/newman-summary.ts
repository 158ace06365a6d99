// Reads what portman generated and what newman ran: how many requests and variations, which assertions failed, which answers were 5xx.
import { readFile } from 'node:fs/promises';

/** The folder portman puts every variation in, fuzzed or not. */
const VARIATION_FOLDER = 'Variation Tests';

interface CollectionItem {
  name: string;
  item?: CollectionItem[];
}

interface NewmanReport {
  run: {
    stats: { requests: { total: number; failed: number }; assertions: { total: number; failed: number } };
    executions: { item: { name: string }; request: { method: string; url: unknown }; response?: { code: number } }[];
    failures: { error: { name: string; test?: string; message: string }; source?: { name?: string } }[];
    error?: unknown;
  };
}

export interface RunSummary {
  requests: number;
  /** Requests in the variations folder: fuzzed inputs, and the 401, 403 and 404 cases. */
  variations: number;
  assertions: number;
  /** One line per failed assertion or failed request: `request name: test: message`. */
  failures: string[];
  /** Requests newman saw answered with a 5xx, by name. */
  serverErrors: string[];
}

function countRequests(items: CollectionItem[]): number {
  return items.reduce((n, item) => n + (item.item ? countRequests(item.item) : 1), 0);
}

export async function summarise(collectionFile: string, reportFile: string): Promise<RunSummary> {
  const collection = JSON.parse(await readFile(collectionFile, 'utf8')) as { item: CollectionItem[] };
  const { run } = JSON.parse(await readFile(reportFile, 'utf8')) as NewmanReport;
  const variationFolder = collection.item.find((item) => item.name === VARIATION_FOLDER);
  return {
    requests: run.stats.requests.total,
    variations: variationFolder?.item ? countRequests(variationFolder.item) : 0,
    assertions: run.stats.assertions.total,
    failures: run.failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.test ?? f.error.name}: ${f.error.message}`),
    serverErrors: run.executions.filter((e) => (e.response?.code ?? 0) >= 500).map((e) => `${e.response!.code} ${e.item.name}`),
  };
}
