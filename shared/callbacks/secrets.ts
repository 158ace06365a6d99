// Per-client Standard Webhooks secrets: created on first use, rotated with a 24-hour overlap in which both sign.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { nowIso, toIso } from '../platform/db.js';
import { isUniqueViolation } from '../platform/errors/unique-violation.js';

export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

export interface WebhookSecret {
  version: number;
  secret: string;
  createdAt: string;
  expiresAt: string | null;
}

const generateSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

type Row = Record<string, unknown>;

const toSecret = (r: Row): WebhookSecret => ({
  version: Number(r.version),
  secret: String(r.secret),
  createdAt: toIso(r.created_at),
  expiresAt: r.expires_at == null ? null : toIso(r.expires_at),
});

/** The secrets that sign now, newest first: the current one, plus a rotated one for 24 hours. */
export async function signingSecrets(db: Knex, userId: string, now = new Date()): Promise<WebhookSecret[]> {
  const rows: Row[] = await db('webhook_secrets')
    .select('*')
    .where({ user_id: userId })
    .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now.toISOString()))
    .orderBy('version', 'desc');
  if (rows.length > 0) return rows.map(toSecret);
  await ensureSecret(db, userId);
  return signingSecrets(db, userId, now);
}

/** Creates the first secret of a user; harmless when two callers race. */
async function ensureSecret(db: Knex, userId: string): Promise<void> {
  await db('webhook_secrets')
    .insert({ user_id: userId, version: 1, secret: generateSecret(), created_at: nowIso(), expires_at: null })
    .onConflict(['user_id', 'version'])
    .ignore();
}

/** Starts a new secret; the previous ones keep signing for 24 hours. Returns every secret that signs now. */
export async function rotateSecret(db: Knex, userId: string, now = new Date()): Promise<WebhookSecret[]> {
  const current = await signingSecrets(db, userId, now);
  const nextVersion = Math.max(...current.map((s) => s.version)) + 1;
  const expiresAt = new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString();
  try {
    await db.transaction(async (trx) => {
      await trx('webhook_secrets').insert({ user_id: userId, version: nextVersion, secret: generateSecret(), created_at: now.toISOString(), expires_at: null });
      await trx('webhook_secrets')
        .where({ user_id: userId })
        .andWhere('version', '<', nextVersion)
        .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', expiresAt))
        .update({ expires_at: expiresAt });
    });
  } catch (err) {
    // Another rotation won the race: its result is as good as ours.
    if (!isUniqueViolation(err)) throw err;
  }
  return signingSecrets(db, userId, now);
}
