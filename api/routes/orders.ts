// Order routes: place an order (validate, write it, queue its checkout), read one with its history, list, cancel while created.
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { actors } from '../../shared/access/actors.js';
import { findCustomer } from '../../shared/access/customers.js';
import { findPayment } from '../../shared/billing/payments.js';
import { enqueueDelivery, listCallbacks } from '../../shared/callbacks/messages.js';
import { listMails } from '../../shared/mail/mails.js';
import { orderView, type Order } from '../../shared/orders/order.js';
import { ORDER_STATUSES } from '../../shared/orders/status.js';
import { findOrder, findVisibleOrder, insertOrder, listOrderEvents, listOrders, moveOrder } from '../../shared/orders/store.js';
import { isUniqueViolation } from '../../shared/platform/errors/unique-violation.js';
import { newId, stableId } from '../../shared/platform/ids.js';
import { currencyCode, isoInstant, isoInstantEnd, positiveAmount, resourceId, withoutControlChars } from '../../shared/platform/input.js';
import { parseCents } from '../../shared/platform/money.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { errorBody, idempotencyKeyHeader, pageOf } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { ApiError, notFound } from '../errors.js';
import { assertCallbackUrl, requireCustomer } from '../guards.js';
import { answerIdempotently, type KeyUse, type StoredResponse } from '../idempotency.js';
import { RATE_COST } from '../rate-limit.js';
import { orderDetail, orderSchema } from './orders.schemas.js';

const orderRequest = z
  .strictObject({
    customerId: resourceId(64).meta({ example: 'demo-rossi' }),
    amount: positiveAmount,
    currency: currencyCode.meta({ description: "The customer's currency." }),
    callbackUrl: withoutControlChars(z.url({ protocol: /^https?$/ }).max(2048))
      .optional()
      .meta({ description: 'Where every status change is posted as an `order.status` callback.', example: 'https://shop.example.com/hooks/antaeus' }),
  })
  .meta({ id: 'OrderRequest' });

const listQuery = z.strictObject({
  ...pageQuery.shape,
  status: z.enum(ORDER_STATUSES).optional(),
  customerId: resourceId(64).optional(),
  from: isoInstant.optional().meta({ description: 'Placed at or after: a day (from its start, UTC) or an instant.' }),
  to: isoInstantEnd.optional().meta({ description: 'Placed at or before: a day (to its end, UTC) or an instant.' }),
});

const idParams = z.strictObject({ id: resourceId(64).meta({ description: 'The order id.' }) });

const invalid = (field: string, message: string) => new ApiError(400, 'invalid_request', 'invalid body', [{ field, message }]);

export function ordersRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'post',
      path: '/orders',
      operationId: 'createOrder',
      summary: 'Place an order',
      description:
        'Writes the order (`created`) and queues its checkout: the balance is checked, the customer charged once, the order fulfilled, or refunded if fulfilment fails for good. Poll `links.self` or give a `callbackUrl`. With an `Idempotency-Key` a retried request answers the first answer and never places a second order.',
      tag: 'orders',
      audience: 'client',
      headers: idempotencyKeyHeader,
      body: orderRequest,
      cost: RATE_COST.payment,
      responses: {
        202: { description: 'Accepted: the order, `created`.', schema: orderSchema, headers: z.object({ 'Idempotent-Replayed': z.string().optional() }) },
        409: { description: 'A request with this Idempotency-Key is still running.', schema: errorBody },
        422: { description: 'This Idempotency-Key was used with another body.', schema: errorBody },
      },
    },
    async ({ body: input }, req, res) => {
      const { principal } = res.locals;
      const key = req.get('idempotency-key');
      const place = async (use?: KeyUse): Promise<StoredResponse> => {
        requireCustomer(principal, input.customerId);
        const customer = await findCustomer(ctx.db, input.customerId);
        if (!customer) throw invalid('customerId', `no customer ${input.customerId}`);
        if (customer.currency !== input.currency) throw invalid('currency', `customer ${customer.id} pays in ${customer.currency}`);
        if (input.callbackUrl) await assertCallbackUrl(ctx.config.callbackAllowedHosts, input.callbackUrl);
        // With a key the id derives from it and from when it was first used, so a request replayed after a crash finds
        // the order it placed, and the same key a day later places a new one.
        const id = key && use ? stableId('order', principal.userId, key, use.createdAt) : newId();
        // From here an order may exist: should this request fail, a retry with the key must find it (same id), not place another.
        if (use) use.holdOnFailure = true;
        const order = await placeOrder(ctx, {
          id,
          customerId: customer.id,
          userId: principal.userId,
          amountCents: parseCents(input.amount),
          currency: input.currency,
          callbackUrl: input.callbackUrl ?? null,
          actor: actors.user(principal.userId),
        });
        return { status: 202, body: orderView(order) };
      };
      const answer = await answerIdempotently(ctx.db, req, res, '/v1/orders', place);
      res
        .status(answer.status)
        .location(`/v1/orders/${(answer.body as { id: string }).id}`)
        .json(answer.body);
    },
  );

  define(
    {
      method: 'get',
      path: '/orders',
      operationId: 'listOrders',
      summary: 'List orders, newest first, with filters',
      tag: 'orders',
      audience: 'client',
      query: listQuery,
      responses: { 200: { description: 'One page of the orders of the customers the key acts for.', schema: pageOf(orderSchema, 'OrderPage') } },
    },
    async ({ query }, _req, res) => {
      const page = await listOrders(ctx.db, res.locals.principal, query, toPageArgs(query));
      res.json({ data: page.data.map(orderView), nextCursor: page.nextCursor });
    },
  );

  define(
    {
      method: 'get',
      path: '/orders/:id',
      operationId: 'getOrder',
      summary: 'Read an order with its history, payment, refund, mail and callbacks',
      tag: 'orders',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The order.', schema: orderDetail } },
    },
    async ({ params }, _req, res) => {
      const order = await findVisibleOrder(ctx.db, res.locals.principal, params.id);
      if (!order) throw notFound('order');
      res.json(await orderDetailView(ctx, order));
    },
  );

  define(
    {
      method: 'delete',
      path: '/orders/:id',
      operationId: 'cancelOrder',
      summary: 'Cancel an order not yet taken by checkout',
      description: 'Only a `created` order can be canceled; once checkout has taken it, a 409 says where it stands. Of a cancel and a checkout racing, exactly one wins.',
      tag: 'orders',
      audience: 'client',
      params: idParams,
      cost: RATE_COST.write,
      responses: {
        200: { description: 'Canceled: the order.', schema: orderSchema },
        409: { description: 'The order is past `created`; `details.status` says where it is.', schema: errorBody },
      },
    },
    async ({ params }, _req, res) => {
      const { principal } = res.locals;
      const order = await findVisibleOrder(ctx.db, principal, params.id);
      if (!order) throw notFound('order');
      const written = await moveOrder(ctx.db, order.id, { from: 'created', to: 'canceled', actor: actors.user(principal.userId) });
      if (!written) {
        const now = (await findOrder(ctx.db, order.id))!;
        throw new ApiError(409, 'order_not_cancelable', `order ${order.id} is ${now.status}: only a created order can be canceled`, { status: now.status });
      }
      // Canceled is written: a callback not queued now is delivered by the sweep.
      for (const messageId of written.messageIds) await enqueueDelivery(ctx.queues, messageId).catch((err: unknown) => ctx.log.warn({ err, messageId }, 'callback not queued; the sweep will'));
      res.json(orderView(written.order));
    },
  );
}

/**
 * The order is written before its checkout is queued, and answered 202 either way: the database is the ground, and
 * should Redis refuse the job, the maintenance sweep queues it within a minute. A replayed key finds its order.
 */
async function placeOrder(ctx: AppContext, order: Parameters<typeof insertOrder>[1]): Promise<Order> {
  let placed: Order;
  try {
    placed = await insertOrder(ctx.db, order);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    placed = (await findOrder(ctx.db, order.id))!;
  }
  try {
    await ctx.queues.add('orders', 'checkout', { orderId: placed.id }, { jobId: jobIds.orderStep(placed.id, 'checkout') });
  } catch (err) {
    ctx.log.warn({ err, orderId: placed.id }, 'checkout not queued now; the maintenance sweep will queue it');
  }
  return placed;
}

async function orderDetailView(ctx: AppContext, order: Order) {
  const [events, payment, mails, callbacks] = await Promise.all([
    listOrderEvents(ctx.db, order.id),
    order.paymentId ? findPayment(ctx.db, order.paymentId) : undefined,
    listMails(ctx.db, { type: 'order', id: order.id }),
    listCallbacks(ctx.db, { type: 'order', id: order.id }),
  ]);
  return {
    ...orderView(order),
    events,
    payment: payment
      ? { id: payment.id, paymentRefId: payment.paymentRefId, status: payment.status, providerChargeId: payment.providerChargeId, reason: payment.reason }
      : null,
    fulfilment: { id: order.fulfilmentId, calls: order.fulfilCalls },
    refund: order.refundReason ? { id: order.refundId, reason: order.refundReason, requestedAt: order.refundRequestedAt! } : null,
    mails,
    callbacks,
  };
}
