// The file each internal invoice becomes for the SdI: its never-reused name, its XML, and whether the SMTP server took it.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { nowIso, toIso, toNumber } from '../platform/db.js';
import { isUniqueViolation } from '../platform/errors/unique-violation.js';
import { encodeProgressive, sdiFileName } from './fatturapa/file-name.js';

export interface SdiFile {
  fileName: string;
  invoiceId: string;
  transmitter: string;
  progressive: string;
  format: string;
  xml: string;
  renderedAt: string;
  validatedAt: string | null;
  smtpMessageId: string | null;
  smtpResponse: string | null;
  sentAt: string | null;
}

type Row = Record<string, unknown>;

const toSdiFile = (r: Row): SdiFile => ({
  fileName: String(r.file_name),
  invoiceId: String(r.invoice_id),
  transmitter: String(r.transmitter),
  progressive: String(r.progressive),
  format: String(r.format),
  xml: String(r.xml),
  renderedAt: toIso(r.rendered_at),
  validatedAt: r.validated_at == null ? null : toIso(r.validated_at),
  smtpMessageId: (r.smtp_message_id as string | null) ?? null,
  smtpResponse: (r.smtp_response as string | null) ?? null,
  sentAt: r.sent_at == null ? null : toIso(r.sent_at),
});

export async function findSdiFileByInvoice(db: Knex, invoiceId: string): Promise<SdiFile | undefined> {
  const row = await db('sdi_files').first('*').where({ invoice_id: invoiceId });
  return row ? toSdiFile(row) : undefined;
}

export async function findSdiFileByName(db: Knex, fileName: string): Promise<SdiFile | undefined> {
  const row = await db('sdi_files').first('*').where({ file_name: fileName });
  return row ? toSdiFile(row) : undefined;
}

/** The next progressive of a transmitter, inside the caller's transaction: a rollback gives it back. */
async function nextProgressive(trx: Knex.Transaction, transmitter: string): Promise<number> {
  await trx('sdi_progressives').insert({ transmitter, last_value: 0 }).onConflict('transmitter').ignore();
  // The increment takes the row lock (PostgreSQL) or the write lock (SQLite) until commit, so two
  // transactions can never read the same value.
  await trx('sdi_progressives').where({ transmitter }).increment('last_value', 1);
  const row = await trx('sdi_progressives').first('last_value').where({ transmitter });
  return toNumber(row!.last_value);
}

export interface NewSdiFile {
  invoiceId: string;
  transmitter: { country: string; code: string };
  format: string;
  /** Builds the document once its progressive is known (ProgressivoInvio is inside it). */
  render(progressive: string): string;
}

/**
 * The invoice's file: the stored one if it has one, else a new one under a fresh progressive.
 * Rendered once and kept, so every retry sends the very same bytes under the very same name.
 */
export async function prepareSdiFile(db: Knex, file: NewSdiFile): Promise<SdiFile> {
  const existing = await findSdiFileByInvoice(db, file.invoiceId);
  if (existing) return existing;
  const transmitter = `${file.transmitter.country}${file.transmitter.code}`;
  try {
    await db.transaction(async (trx) => {
      const progressive = encodeProgressive(await nextProgressive(trx, transmitter));
      await trx('sdi_files').insert({
        file_name: sdiFileName(file.transmitter, progressive),
        invoice_id: file.invoiceId,
        transmitter,
        progressive,
        format: file.format,
        xml: file.render(progressive),
        rendered_at: nowIso(),
      });
    });
  } catch (err) {
    // Another worker prepared it first; its file wins and our progressive was rolled back.
    if (!isUniqueViolation(err)) throw err;
  }
  return (await findSdiFileByInvoice(db, file.invoiceId))!;
}

/** Records that the file passed the schema, so retries do not pay for the check again. */
export async function markSdiFileValid(db: Knex, fileName: string): Promise<void> {
  await db('sdi_files').where({ file_name: fileName }).whereNull('validated_at').update({ validated_at: nowIso() });
}

/**
 * Takes the sending of an unsent file for `leaseMs` with a conditional update: of two attempts at once (a stalled
 * job's twin, a job the sweep queued again while the first still ran) only one mails it. Returns the lease's token.
 */
export async function claimSdiSend(db: Knex, fileName: string, leaseMs: number): Promise<string | undefined> {
  const now = new Date();
  const token = randomUUID();
  const updated = await db('sdi_files')
    .where({ file_name: fileName })
    .whereNull('sent_at')
    .andWhere((q) => q.whereNull('send_lease_until').orWhere('send_lease_until', '<', now.toISOString()))
    .update({ send_lease_token: token, send_lease_until: new Date(now.getTime() + leaseMs).toISOString() });
  return updated === 1 ? token : undefined;
}

/** Gives the send back after a failed attempt, so the retry need not wait for the lease to run out. */
export async function releaseSdiSend(db: Knex, fileName: string, token: string): Promise<void> {
  await db('sdi_files').where({ file_name: fileName, send_lease_token: token }).update({ send_lease_token: null, send_lease_until: null });
}

/** Records that the SMTP server accepted the file; the first record stands. */
export async function markSdiFileSent(db: Knex, fileName: string, smtp: { messageId: string; response: string }): Promise<void> {
  await db('sdi_files')
    .where({ file_name: fileName })
    .whereNull('sent_at')
    .update({ smtp_message_id: smtp.messageId, smtp_response: smtp.response.slice(0, 1000), sent_at: nowIso(), send_lease_token: null, send_lease_until: null });
}

/** Forgets a file that was never sent (it failed validation); its progressive stays used. */
export async function discardUnsentSdiFile(db: Knex, fileName: string): Promise<void> {
  await db('sdi_files').where({ file_name: fileName }).whereNull('sent_at').delete();
}
