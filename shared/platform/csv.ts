// Writes CSV reports with csv-stringify: formula-safe cells, atomic files named by time.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';

/** What makes a spreadsheet read a cell as a formula (OWASP's list). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A leading apostrophe makes a spreadsheet show the text rather than run it. */
export function neutraliseCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** A file-name-safe UTC stamp: 2026-11-21T10-00-00-000Z. */
export const fileStamp = (at: Date): string => at.toISOString().replaceAll(':', '-').replace('.', '-');

export interface CsvReport<R> {
  dir: string;
  /** The report's kind, the first part of its file name. */
  name: string;
  at: Date;
  columns: { key: keyof R & string; header: string }[];
  rows: AsyncIterable<R>;
}

/**
 * Streams the rows into `<dir>/<name>-<stamp>.csv`. Written under a temporary name and renamed, so a
 * reader never sees half a report, and a retried job replaces its own file rather than adding one.
 */
export async function writeCsvReport<R extends object>(report: CsvReport<R>): Promise<{ file: string; rows: number }> {
  await mkdir(report.dir, { recursive: true });
  const file = join(report.dir, `${report.name}-${fileStamp(report.at)}.csv`);
  const partial = `${file}.partial`;
  let rows = 0;
  const counted = async function* () {
    for await (const row of report.rows) {
      rows += 1;
      yield row;
    }
  };
  try {
    await pipeline(
      Readable.from(counted()),
      stringify({
        header: true,
        columns: report.columns,
        quoted_string: true,
        cast: {
          string: neutraliseCell,
          date: (d) => d.toISOString(),
          boolean: (b) => (b ? 'true' : 'false'),
        },
      }),
      createWriteStream(partial),
    );
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return { file, rows };
}
