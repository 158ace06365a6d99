// Payment routes: the payments ledger with filters and cursor pages, and one-off payments honouring Idempotency-Key.
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { findCustomer } from '../../shared/access/customers.js';
import { chargeKeys } from '../../shared/billing/charge-path.js';
import { findPayment, findVisiblePayment, insertPayment, listPayments, PAYMENT_RECORD_STATUSES, paymentView, oneOffPaymentId } from '../../shared/billing/payments.js';
import { newId } from '../../shared/platform/ids.js';
import { parseCents } from '../../shared/platform/money.js';
import { currencyCode, isoInstant, isoInstantEnd, positiveAmount, resourceId, safeText } from '../../shared/platform/input.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { errorBody, idempotencyKeyHeader, pageOf } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { ApiError, notFound } from '../errors.js';
import { requireCustomer } from '../guards.js';
import { answerIdempotently, type KeyUse, type StoredResponse } from '../idempotency.js';
import { RATE_COST } from '../rate-limit.js';
import { paymentSchema } from './payments.schemas.js';

const listQuery = z.strictObject({
  ...pageQuery.shape,
  from: isoInstant.optional().meta({ description: 'Created at or after: a day (from its start, UTC) or an instant.' }),
  to: isoInstantEnd.optional().meta({ description: 'Created at or before: a day (to its end, UTC) or an instant.' }),
  customerId: resourceId(64).optional(),
  userId: resourceId(36).optional(),
  paymentRefId: z.uuid().optional(),
  invoiceId: resourceId(64).optional(),
  status: z.enum(PAYMENT_RECORD_STATUSES).optional(),
});

const oneOffRequest = z
  .strictObject({
    customerId: resourceId(64),
    amount: positiveAmount,
    currency: currencyCode,
    description: safeText(500).optional(),
  })
  .meta({ id: 'OneOffPaymentRequest' });

const idParams = z.strictObject({ id: resourceId(64).meta({ description: 'The payment id.' }) });

export function paymentsRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'get',
      path: '/payments',
      operationId: 'listPayments',
      summary: 'List payments, newest first, with filters',
      tag: 'payments',
      audience: 'client',
      query: listQuery,
      responses: { 200: { description: 'One page of the payments the key may see.', schema: pageOf(paymentSchema, 'PaymentPage') } },
    },
    async ({ query }, _req, res) => {
      const page = await listPayments(ctx.db, res.locals.principal, query, toPageArgs(query));
      res.json({ data: page.data.map(paymentView), nextCursor: page.nextCursor });
    },
  );

  define(
    {
      method: 'get',
      path: '/payments/:id',
      operationId: 'getPayment',
      summary: 'Read a payment',
      tag: 'payments',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The payment.', schema: paymentSchema } },
    },
    async ({ params }, _req, res) => {
      const payment = await findVisiblePayment(ctx.db, res.locals.principal, params.id);
      if (!payment) throw notFound('payment');
      res.json(paymentView(payment));
    },
  );

  define(
    {
      method: 'post',
      path: '/payments',
      operationId: 'createPayment',
      summary: 'Charge a customer once',
      description: 'Queues a one-off charge. With an `Idempotency-Key` a retried request answers the first answer and never charges twice.',
      tag: 'payments',
      audience: 'client',
      headers: idempotencyKeyHeader,
      body: oneOffRequest,
      cost: RATE_COST.payment,
      responses: {
        202: { description: 'Accepted: the payment, PENDING until charged.', schema: paymentSchema, headers: z.object({ 'Idempotent-Replayed': z.string().optional() }) },
        409: { description: 'A request with this Idempotency-Key is still running.', schema: errorBody },
        422: { description: 'This Idempotency-Key was used with another body.', schema: errorBody },
      },
    },
    async ({ body: input }, req, res) => {
      const { principal } = res.locals;
      const key = req.get('idempotency-key');
      const create = async (use?: KeyUse): Promise<StoredResponse> => {
        requireCustomer(principal, input.customerId);
        if (!(await findCustomer(ctx.db, input.customerId))) {
          throw new ApiError(400, 'invalid_request', 'invalid body', [{ field: 'customerId', message: `no customer ${input.customerId}` }]);
        }
        // With a key the id derives from it, so a request replayed after a crash finds the payment it created; and from
        // when the key was first used, so the same key a day later (a new request) makes a new payment.
        const id = key && use ? oneOffPaymentId(principal.userId, JSON.stringify([key, use.createdAt])) : newId();
        await insertPayment(ctx.db, {
          id,
          kind: 'one-off',
          customerId: input.customerId,
          userId: principal.userId,
          amountCents: parseCents(input.amount),
          currency: input.currency,
          status: 'PENDING',
          description: input.description ?? null,
          idempotencyKey: chargeKeys.oneOff(id),
        });
        // From here a payment exists: should this request fail, a retry with the key must find it, not make another.
        if (use) use.holdOnFailure = true;
        try {
          await ctx.queues.add('charge', 'one-off', { paymentId: id }, { jobId: jobIds.oneOffCharge(id) });
        } catch (err) {
          // Not queued, so never charged: leave no payment that would read PENDING for ever.
          const removed = await ctx.db('payments').where({ id, status: 'PENDING' }).whereNull('charge_lease_token').delete().catch(() => 0);
          // Undone, so the key may go too; a payment that stays (being charged by an earlier request's job) keeps it.
          if (use && removed === 1) use.holdOnFailure = false;
          throw err;
        }
        return { status: 202, body: paymentView((await findPayment(ctx.db, id))!) };
      };
      const answer = await answerIdempotently(ctx.db, req, res, '/v1/payments', create);
      const answered = answer.body as { id: string };
      res.status(answer.status).location(`/v1/payments/${answered.id}`).json(answer.body);
    },
  );
}
