// Who is calling: a user with a role, and the customers a client may see (operators see everything).
import type { Knex } from 'knex';

export type Role = 'operator' | 'client';

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** The customers a client may act for, loaded with the key; operators may act for all. */
  customerIds: ReadonlySet<string> | 'all';
}

export const isOperator = (p: Principal): boolean => p.role === 'operator';

/** Restricts a query to the rows whose customer column is linked to the principal's user. */
export function scopeToCustomers(query: Knex.QueryBuilder, db: Knex, principal: Principal, column: string): Knex.QueryBuilder {
  if (isOperator(principal)) return query;
  return query.whereIn(column, db('user_customers').select('customer_id').where('user_id', principal.userId));
}

export function canAccessCustomer(principal: Principal, customerId: string): boolean {
  return principal.customerIds === 'all' || principal.customerIds.has(customerId);
}
