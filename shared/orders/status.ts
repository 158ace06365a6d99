// The order saga as data: every status, the allowed moves, the final statuses, and which step drives an order onward.

export const ORDER_STATUSES = [
  'created',
  'pendingPayment',
  'awaitingPayment',
  'awaitingFulfillment',
  'finished',
  'failed',
  'refunded',
  'canceled',
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * Allowed moves. `awaitingFulfillment` is the saga's pivot: before it no money has moved and an order can only fail;
 * after it the money is taken and the order either finishes or is refunded, never failed.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  created: ['pendingPayment', 'canceled'],
  pendingPayment: ['awaitingPayment', 'failed'],
  awaitingPayment: ['awaitingFulfillment', 'failed'],
  awaitingFulfillment: ['finished', 'refunded'],
  finished: [],
  failed: [],
  refunded: [],
  canceled: [],
};

export const FINAL_ORDER_STATUSES = ['finished', 'failed', 'refunded', 'canceled'] as const satisfies readonly OrderStatus[];

export function canMoveOrder(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export const isFinalOrderStatus = (status: OrderStatus): boolean => ORDER_TRANSITIONS[status].length === 0;

/** The saga's steps: each is a job of the `orders` queue. */
export type OrderStep = 'checkout' | 'fulfil' | 'refund';

/** The statuses `checkout` drives: it takes an order from created to paid (or failed) in one job. */
export const CHECKOUT_STATUSES = ['created', 'pendingPayment', 'awaitingPayment'] as const satisfies readonly OrderStatus[];

/**
 * The step that moves an order on from where the database says it is: what the sweep enqueues when no job carries it.
 * A paid order is fulfilled, unless its fulfilment failed for good and a refund is owed.
 */
export function stepFor(status: OrderStatus, refundOwed: boolean): OrderStep | undefined {
  if ((CHECKOUT_STATUSES as readonly OrderStatus[]).includes(status)) return 'checkout';
  if (status === 'awaitingFulfillment') return refundOwed ? 'refund' : 'fulfil';
  return undefined;
}

/** One job per step of an order: a step enqueued twice (a retry, the sweep) is one job. BullMQ ids may not hold `:`. */
export const orderStepJobId = (orderId: string, step: OrderStep): string => `order-${orderId}-${step}`;
