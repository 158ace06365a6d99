// Payment routes: the payments ledger with filters and cursor pages, and one-off payments honouring Idempotency-Key.
import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { jobIds } from '../../queues/jobs.js';
import { findCustomer } from '../../shared/access/customers.js';
import { chargeKeys } from '../../shared/billing/charge-path.js';
import { findPayment, findVisiblePayment, insertPayment, listPayments, PAYMENT_RECORD_STATUSES, paymentView, oneOffPaymentId } from '../../shared/billing/payments.js';
import { newId } from '../../shared/platform/ids.js';
import { AMOUNT_PATTERN, parseCents } from '../../shared/platform/money.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { ApiError, notFound } from '../errors.js';
import { requireCustomer } from '../guards.js';
import { idempotent, KEY_PATTERN, requestFingerprint, type KeyUse, type StoredResponse } from '../idempotency.js';
import { parseBody, parseQuery } from '../validate.js';

/** A date (whole day, UTC) or an instant. */
const instant = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);
const startOf = (v: string) => (v.length === 10 ? `${v}T00:00:00.000Z` : new Date(v).toISOString());
const endOf = (v: string) => (v.length === 10 ? `${v}T23:59:59.999Z` : new Date(v).toISOString());

const listQuery = pageQuery.extend({
  from: instant.optional(),
  to: instant.optional(),
  customerId: z.string().max(64).optional(),
  userId: z.string().max(36).optional(),
  paymentRefId: z.uuid().optional(),
  invoiceId: z.string().max(36).optional(),
  status: z.enum(PAYMENT_RECORD_STATUSES).optional(),
});

const oneOffRequest = z.object({
  customerId: z.string().min(1).max(64),
  amount: z
    .union([z.string(), z.number()])
    .transform(String)
    .refine((v) => AMOUNT_PATTERN.test(v) && Number(v) > 0, 'expected a positive amount with at most 2 decimals, e.g. "12.50"'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR'),
  description: z.string().max(500).optional(),
});

export function paymentsRoutes(router: Router, ctx: AppContext): void {

  router.get('/payments', async (req, res) => {
    const q = parseQuery(listQuery, req.query);
    const filters = { ...q, from: q.from && startOf(q.from), to: q.to && endOf(q.to) };
    const page = await listPayments(ctx.db, res.locals.principal, filters, toPageArgs(q));
    res.json({ data: page.data.map(paymentView), nextCursor: page.nextCursor });
  });

  router.get('/payments/:id', async (req, res) => {
    const payment = await findVisiblePayment(ctx.db, res.locals.principal, String(req.params.id));
    if (!payment) throw notFound('payment');
    res.json(paymentView(payment));
  });

  router.post('/payments', async (req, res) => {
    const { principal } = res.locals;
    const key = req.get('idempotency-key');
    if (key !== undefined && !KEY_PATTERN.test(key)) {
      throw new ApiError(400, 'invalid_request', 'invalid Idempotency-Key', [{ field: 'Idempotency-Key', message: '1 to 255 printable ASCII characters' }]);
    }
    const create = async (use?: KeyUse): Promise<StoredResponse> => {
      const input = parseBody(oneOffRequest, req.body);
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
    const answer = key
      ? await idempotent(ctx.db, { userId: principal.userId, key, fingerprint: requestFingerprint('POST', '/v1/payments', req.body) }, create)
      : { ...(await create()), replayed: false };
    if (answer.replayed) res.set('Idempotent-Replayed', 'true');
    const body = answer.body as { id: string };
    res.status(answer.status).location(`/v1/payments/${body.id}`).json(answer.body);
  });

}
