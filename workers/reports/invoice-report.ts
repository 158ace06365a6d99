// reports/invoice-report: every invoice with its status, customer and who created and last changed it, as one CSV file.
import type { JobData } from '../../queues/jobs.js';
import { writeCsvReport } from '../../shared/platform/csv.js';
import { toIso } from '../../shared/platform/db.js';
import type { JobContext } from '../types.js';

interface InvoiceRow {
  id: string;
  kind: string;
  status: string;
  number: string;
  customerId: string;
  customerUsername: string;
  customerEmail: string;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

const PAGE = 1000;

export async function writeInvoiceReport(_payload: JobData<'reports', 'invoice-report'>, ctx: JobContext): Promise<{ file: string; rows: number }> {
  async function* invoices(): AsyncGenerator<InvoiceRow> {
    let after: { createdAt: string | Date; id: string } | undefined;
    for (;;) {
      // Keyset pages on (created_at, id): constant memory and cost per page, however many invoices there are.
      const query = ctx.db('invoices')
        .leftJoin('customers', 'customers.id', 'invoices.customer_id')
        .select(
          'invoices.id', 'invoices.kind', 'invoices.status', 'invoices.number', 'invoices.customer_id',
          'customers.username', 'customers.email',
          'invoices.created_at', 'invoices.created_by', 'invoices.updated_at', 'invoices.updated_by',
        )
        .orderBy([{ column: 'invoices.created_at' }, { column: 'invoices.id' }])
        .limit(PAGE);
      if (after) {
        const { createdAt, id } = after;
        query.where((q) => q.where('invoices.created_at', '>', createdAt).orWhere((q2) => q2.where('invoices.created_at', createdAt).andWhere('invoices.id', '>', id)));
      }
      const rows: Record<string, unknown>[] = await query;
      for (const r of rows) {
        yield {
          id: String(r.id),
          kind: String(r.kind),
          status: String(r.status),
          number: String(r.number),
          customerId: String(r.customer_id),
          customerUsername: (r.username as string | null) ?? '',
          customerEmail: (r.email as string | null) ?? '',
          createdAt: toIso(r.created_at),
          createdBy: String(r.created_by),
          updatedAt: toIso(r.updated_at),
          updatedBy: String(r.updated_by),
        };
      }
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1]!;
      // Passed back as the driver gave it (a string on SQLite, a Date on PostgreSQL), so the comparison is exact.
      after = { createdAt: last.created_at as string | Date, id: String(last.id) };
    }
  }
  const result = await writeCsvReport<InvoiceRow>({
    dir: ctx.config.reportsDir,
    name: 'invoice-report',
    at: new Date(ctx.job.createdAt),
    columns: [
      { key: 'id', header: 'invoice id' },
      { key: 'kind', header: 'kind' },
      { key: 'status', header: 'status' },
      { key: 'number', header: 'number' },
      { key: 'customerId', header: 'customer id' },
      { key: 'customerUsername', header: 'customer username' },
      { key: 'customerEmail', header: 'customer email' },
      { key: 'createdAt', header: 'created at' },
      { key: 'createdBy', header: 'created by' },
      { key: 'updatedAt', header: 'updated at' },
      { key: 'updatedBy', header: 'updated by' },
    ],
    rows: invoices(),
  });
  ctx.log.info(result, 'invoice report written');
  return result;
}
