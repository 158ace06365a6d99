// Order persistence: insert with the first event, compare-and-set moves that write their event and callback alongside, reads and scoped lists.
import type { Knex } from 'knex';
import type { Actor } from '../access/actors.js';
import { scopeToCustomers, type Principal } from '../access/principal.js';
import { recordCallback } from '../callbacks/messages.js';
import { nowIso, toIso } from '../platform/db.js';
import { keysetPage, toPage, type Page, type PageArgs } from '../platform/pagination.js';
import { orderStatusData, toOrder, type Order, type OrderEvent } from './order.js';
import { canMoveOrder, type OrderStatus, type OrderStep } from './status.js';

type Row = Record<string, unknown>;

export interface NewOrder {
  id: string;
  customerId: string;
  userId: string;
  amountCents: number;
  currency: string;
  callbackUrl: string | null;
  actor: Actor;
}

/** Inserts a `created` order and its first event, in one transaction. */
export async function insertOrder(db: Knex, o: NewOrder): Promise<Order> {
  const at = nowIso();
  await db.transaction(async (trx) => {
    await trx('orders').insert({
      id: o.id,
      customer_id: o.customerId,
      user_id: o.userId,
      amount_cents: o.amountCents,
      currency: o.currency,
      status: 'created',
      callback_url: o.callbackUrl,
      created_at: at,
      created_by: o.actor,
      updated_at: at,
      updated_by: o.actor,
    });
    await trx('order_events').insert({ order_id: o.id, from_status: null, to_status: 'created', at, actor: o.actor, details: null });
  });
  return (await findOrder(db, o.id))!;
}

export async function findOrder(db: Knex, id: string): Promise<Order | undefined> {
  const row = await db('orders').first('*').where({ id });
  return row ? toOrder(row) : undefined;
}

/** The order if the principal may see its customer; otherwise undefined, as for an order that does not exist. */
export async function findVisibleOrder(db: Knex, principal: Principal, id: string): Promise<Order | undefined> {
  const row = await scopeToCustomers(db('orders').first('orders.*').where('orders.id', id), db, principal, 'orders.customer_id');
  return row ? toOrder(row) : undefined;
}

/** What a step wrote besides the order, for the caller to act on once it is committed. */
export interface Written {
  order: Order;
  /** Callback messages recorded with the move: their deliveries are enqueued after the commit. */
  messageIds: string[];
  /** Customer mails recorded with the move. */
  mailIds: string[];
  /** The saga's next step, to enqueue after the commit. */
  next?: OrderStep;
}

export interface OrderMove {
  from: OrderStatus;
  to: OrderStatus;
  actor: Actor;
  details?: unknown;
  /** Other columns set by the same update. */
  set?: Record<string, unknown>;
  /** Narrows the compare-and-set, e.g. to an order that owes no refund. */
  where?: (query: Knex.QueryBuilder) => void;
  /** The step's other writes (a payment, a mail), in the same transaction, made only when the order moved. */
  alongside?: (trx: Knex.Transaction, order: Order) => Promise<Partial<Omit<Written, 'order' | 'messageIds'>> | void>;
}

/**
 * Moves an order from `from` to `to`, if it is still in `from`: one conditional update, so of two workers (or a
 * worker and a cancel) only one ever makes a move. The event, the `order.status` callback message and the step's
 * other writes are in the same transaction: a crash leaves all of them or none. Undefined when the order was not in
 * `from` (or not matching `where`).
 */
export async function moveOrder(db: Knex, id: string, move: OrderMove): Promise<Written | undefined> {
  if (!canMoveOrder(move.from, move.to)) throw new Error(`an order cannot move from ${move.from} to ${move.to}`);
  const at = nowIso();
  // The transaction opens with the write, so SQLite takes its write lock first and waits on busy_timeout.
  return db.transaction(async (trx) => {
    const update = trx('orders')
      .where({ id, status: move.from })
      // A move clears what a stuck step noted (see noteStuck); a failure sets its own reason.
      .update({ reason: null, ...move.set, status: move.to, updated_at: at, updated_by: move.actor });
    move.where?.(update);
    if ((await update) !== 1) return undefined;
    await trx('order_events').insert({
      order_id: id,
      from_status: move.from,
      to_status: move.to,
      at,
      actor: move.actor,
      details: move.details === undefined ? null : JSON.stringify(move.details),
    });
    const order = toOrder(await trx('orders').first('*').where({ id }));
    const extra = (await move.alongside?.(trx, order)) ?? {};
    const messageIds = order.callbackUrl ? [await recordOrderStatus(trx, order)] : [];
    return { order, messageIds, mailIds: extra.mailIds ?? [], ...(extra.next ? { next: extra.next } : {}) };
  });
}

/** The `order.status` message of the order's current status: one per status, however often it is recorded. */
function recordOrderStatus(db: Knex, order: Order): Promise<string> {
  return recordCallback(db, {
    userId: order.userId,
    url: order.callbackUrl!,
    type: 'order.status',
    data: orderStatusData(order),
    resource: { type: 'order', id: order.id },
    eventKey: order.status,
  });
}

/** Counts one more call to the fulfilment service or the provider before it is made: a crash mid-call leaves a trace. */
export async function countCall(db: Knex, id: string, column: 'fulfil_calls' | 'refund_calls'): Promise<void> {
  await db('orders').where({ id }).update({ [column]: db.raw(`${column} + 1`) });
}

/**
 * Records that fulfilment failed for good and a refund is owed, if the order is paid, unfinished and owes none yet:
 * the fulfil step's own write, so no crash between the failure and the refund can lose the refund.
 */
export async function recordRefundOwed(db: Knex, id: string, reason: string): Promise<boolean> {
  const updated = await db('orders')
    .where({ id, status: 'awaitingFulfillment' })
    .whereNull('refund_reason')
    .update({ refund_reason: reason, refund_requested_at: nowIso(), updated_at: nowIso() });
  return updated === 1;
}

export async function listOrderEvents(db: Knex, orderId: string): Promise<OrderEvent[]> {
  const rows: Row[] = await db('order_events').select('*').where({ order_id: orderId }).orderBy('id');
  return rows.map((r) => ({
    from: (r.from_status as OrderStatus | null) ?? null,
    to: r.to_status as OrderStatus,
    at: toIso(r.at),
    actor: String(r.actor),
    details: typeof r.details === 'string' ? (JSON.parse(r.details) as unknown) : (r.details ?? null),
  }));
}

export interface OrderFilters {
  status?: OrderStatus;
  customerId?: string;
  /** Created at or after this instant (ISO 8601). */
  from?: string;
  /** Created at or before this instant (ISO 8601). */
  to?: string;
}

export async function listOrders(db: Knex, principal: Principal, filters: OrderFilters, page: PageArgs): Promise<Page<Order>> {
  const query = scopeToCustomers(db('orders').select('orders.*'), db, principal, 'orders.customer_id');
  if (filters.status) query.where('orders.status', filters.status);
  if (filters.customerId) query.where('orders.customer_id', filters.customerId);
  if (filters.from) query.where('orders.created_at', '>=', filters.from);
  if (filters.to) query.where('orders.created_at', '<=', filters.to);
  const rows: Row[] = await keysetPage(query, 'orders', page.limit, page.after);
  return toPage(rows.map(toOrder), page.limit);
}

export interface UnfinishedOrder {
  id: string;
  status: OrderStatus;
  refundOwed: boolean;
}

/** A page of the orders not in a final status, by id after `afterId`: what the sweep walks to find steps whose job is gone. */
export async function unfinishedOrders(db: Knex, afterId: string | null, limit: number): Promise<UnfinishedOrder[]> {
  const query = db('orders')
    .select('id', 'status', 'refund_reason')
    .whereIn('status', ['created', 'pendingPayment', 'awaitingPayment', 'awaitingFulfillment'])
    .orderBy('id')
    .limit(limit);
  if (afterId) query.andWhere('id', '>', afterId);
  return (await query).map((r: Row) => ({ id: String(r.id), status: r.status as OrderStatus, refundOwed: r.refund_reason != null }));
}

/** Says on an unfinished order why it is stuck (a step out of attempts), where the API and the console show it. */
export async function noteStuck(db: Knex, id: string, reason: string): Promise<void> {
  await db('orders')
    .where({ id })
    .whereNotIn('status', ['finished', 'failed', 'refunded', 'canceled'])
    .update({ reason, updated_at: nowIso() });
}
