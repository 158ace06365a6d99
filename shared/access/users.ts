// Users, their API keys (stored as SHA-256 hashes, shown once) and their links to customers.
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import { nowIso, toIso } from '../platform/db.js';
import { isUniqueViolation } from '../platform/errors/unique-violation.js';
import { newId } from '../platform/ids.js';
import { resourceId, withoutControlChars } from '../platform/input.js';
import { keysetPage, MAX_LIMIT, toPage, type Page, type PageArgs } from '../platform/pagination.js';
import type { Principal, Role } from './principal.js';

export interface NewUser {
  id?: string;
  username: string;
  email: string;
  role: Role;
}

/** Keys carry 256 random bits, so a fast hash is as safe as a slow one and keeps every request cheap. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export const generateApiKey = (): string => `ak_${randomBytes(32).toString('base64url')}`;

export async function insertUser(db: Knex, user: NewUser): Promise<string> {
  const id = user.id ?? newId();
  await db('users').insert({ id, username: user.username, email: user.email, role: user.role, created_at: nowIso() });
  return id;
}

export async function findUserByUsername(db: Knex, username: string): Promise<{ id: string; role: Role } | undefined> {
  return db('users').first('id', 'role').where({ username });
}

/** Stores a key for the user (a given one, or a new random one) and returns it; the database keeps only its hash. */
export async function addApiKey(db: Knex, userId: string, key = generateApiKey()): Promise<string> {
  await db('api_keys')
    .insert({ id: newId(), user_id: userId, key_hash: hashApiKey(key), key_prefix: key.slice(0, 12), created_at: nowIso() })
    .onConflict('key_hash')
    .ignore();
  return key;
}

export async function findPrincipalByApiKey(db: Knex, key: string): Promise<Principal | undefined> {
  const row = await db('api_keys')
    .join('users', 'users.id', 'api_keys.user_id')
    .first('users.id as userId', 'users.username as username', 'users.role as role')
    .where('api_keys.key_hash', hashApiKey(key))
    .whereNull('api_keys.revoked_at');
  if (!row) return undefined;
  const role = row.role as Role;
  const customerIds =
    role === 'operator' ? ('all' as const) : new Set((await db('user_customers').pluck('customer_id').where('user_id', row.userId)) as string[]);
  return { userId: String(row.userId), username: String(row.username), role, customerIds };
}

export async function linkCustomer(db: Knex, userId: string, customerId: string): Promise<void> {
  await db('user_customers').insert({ user_id: userId, customer_id: customerId, created_at: nowIso() }).onConflict(['user_id', 'customer_id']).ignore();
}

const ROLES = ['operator', 'client'] as const satisfies readonly Role[];

/** A user as an operator creates one; unknown fields are refused. */
export const userInputSchema = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1 to 64 letters, digits, ., _ or -'),
  email: withoutControlChars(z.email().max(256)),
  role: z.enum(ROLES),
  customerIds: z.array(resourceId(64)).max(MAX_LIMIT).optional(),
});

export type UserInput = z.output<typeof userInputSchema>;

/** What may be shown of a key: never the key, never its hash. */
export interface ApiKeyInfo {
  id: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface User {
  id: string;
  username: string;
  email: string;
  role: Role;
  customerIds: string[];
  createdAt: string;
  apiKeys: ApiKeyInfo[];
}

/** A freshly stored key: the only moment the key itself is known. */
export interface IssuedApiKey {
  id: string;
  prefix: string;
  createdAt: string;
  apiKey: string;
}

export type CreateUserResult =
  | { outcome: 'created'; user: User; apiKey: string }
  | { outcome: 'duplicate_username' }
  | { outcome: 'unknown_customers'; customerIds: string[] };

type Row = Record<string, unknown>;

const toApiKeyInfo = (r: Row): ApiKeyInfo => ({
  id: String(r.id),
  prefix: String(r.key_prefix),
  createdAt: toIso(r.created_at),
  revokedAt: r.revoked_at == null ? null : toIso(r.revoked_at),
});

/** Stores a key for the user and returns it with its id and prefix; unlike addApiKey, a colliding key is an error. */
export async function issueApiKey(db: Knex, userId: string, key = generateApiKey()): Promise<IssuedApiKey> {
  const issued = { id: newId(), prefix: key.slice(0, 12), createdAt: nowIso(), apiKey: key };
  await db('api_keys').insert({ id: issued.id, user_id: userId, key_hash: hashApiKey(key), key_prefix: issued.prefix, created_at: issued.createdAt });
  return issued;
}

/**
 * Creates a user, its links and its first key in one transaction, so a failure leaves nothing behind. The customers
 * are checked first to name the unknown ones; the unique index, not a prior read, decides a duplicate username.
 */
export async function createUser(db: Knex, input: UserInput): Promise<CreateUserResult> {
  const customerIds = [...new Set(input.customerIds ?? [])];
  try {
    return await db.transaction(async (trx): Promise<CreateUserResult> => {
      if (customerIds.length > 0) {
        const known = new Set((await trx('customers').pluck('id').whereIn('id', customerIds)) as string[]);
        const unknown = customerIds.filter((id) => !known.has(id));
        if (unknown.length > 0) return { outcome: 'unknown_customers', customerIds: unknown };
      }
      const id = await insertUser(trx, { username: input.username, email: input.email, role: input.role });
      for (const customerId of customerIds) await linkCustomer(trx, id, customerId);
      const { apiKey } = await issueApiKey(trx, id);
      return { outcome: 'created', user: (await findUser(trx, id))!, apiKey };
    });
  } catch (err) {
    if (isUniqueViolation(err) && (await findUserByUsername(db, input.username))) return { outcome: 'duplicate_username' };
    throw err;
  }
}

export async function userExists(db: Knex, id: string): Promise<boolean> {
  return Boolean(await db('users').first('id').where({ id }));
}

/** Adds each user's linked customers and keys with one query per table, not one per user. */
async function withLinksAndKeys(db: Knex, rows: Row[]): Promise<User[]> {
  const ids = rows.map((r) => String(r.id));
  if (ids.length === 0) return [];
  const [links, keys]: [Row[], Row[]] = await Promise.all([
    db('user_customers').select('user_id', 'customer_id').whereIn('user_id', ids).orderBy('customer_id'),
    db('api_keys').select('id', 'user_id', 'key_prefix', 'created_at', 'revoked_at').whereIn('user_id', ids).orderBy(['created_at', 'id']),
  ]);
  return rows.map((r) => ({
    id: String(r.id),
    username: String(r.username),
    email: String(r.email),
    role: r.role as Role,
    customerIds: links.filter((l) => l.user_id === r.id).map((l) => String(l.customer_id)),
    createdAt: toIso(r.created_at),
    apiKeys: keys.filter((k) => k.user_id === r.id).map(toApiKeyInfo),
  }));
}

export async function findUser(db: Knex, id: string): Promise<User | undefined> {
  const row: Row | undefined = await db('users').first('*').where({ id });
  return row ? (await withLinksAndKeys(db, [row]))[0] : undefined;
}

export async function listUsers(db: Knex, page: PageArgs): Promise<Page<User>> {
  const rows: Row[] = await keysetPage(db('users').select('users.*'), 'users', page.limit, page.after);
  return toPage(await withLinksAndKeys(db, rows), page.limit);
}

/** Revokes one of the user's keys; revoking it again keeps the first time. Returns false when the user has no such key. */
export async function revokeApiKey(db: Knex, userId: string, keyId: string): Promise<boolean> {
  const updated = await db('api_keys').where({ id: keyId, user_id: userId }).whereNull('revoked_at').update({ revoked_at: nowIso() });
  return updated > 0 || Boolean(await db('api_keys').first('id').where({ id: keyId, user_id: userId }));
}

export async function unlinkCustomer(db: Knex, userId: string, customerId: string): Promise<void> {
  await db('user_customers').where({ user_id: userId, customer_id: customerId }).delete();
}
