// Who is calling: a user with a role, and the customers a client may see (operators see everything).
import type { Knex } from 'knex';

export type Role = 'operator' | 'client';

export interface Principal {
  userId: string;
  username: string;
  role: Role;
}

export const isOperator = (p: Principal): boolean => p.role === 'operator';

/** Restricts a query to the rows whose customer column is linked to the principal's user. */
export function scopeToCustomers(query: Knex.QueryBuilder, db: Knex, principal: Principal, column: string): Knex.QueryBuilder {
  if (isOperator(principal)) return query;
  return query.whereIn(column, db('user_customers').select('customer_id').where('user_id', principal.userId));
}

export async function canAccessCustomer(db: Knex, principal: Principal, customerId: string): Promise<boolean> {
  if (isOperator(principal)) return true;
  const link = await db('user_customers').first('customer_id').where({ user_id: principal.userId, customer_id: customerId });
  return link !== undefined;
}
