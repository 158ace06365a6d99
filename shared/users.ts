// Users, their API keys (stored as SHA-256 hashes, shown once) and their links to customers.
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { nowIso } from './db.js';
import { newId } from './ids.js';
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
