// charge/one-off: charge a one-off payment asked for through the API, exactly once; no dunning, a decline fails it.
import { UnrecoverableError } from 'bullmq';
import type { JobData } from '../../queues/jobs.js';
import { attemptCharge, chargeKeys } from '../../shared/billing/charge-path.js';
import { claimCharge, heldElsewhere, recordUnsettledCharge, releaseCharge } from '../../shared/billing/leases.js';
import { findPayment, settlePayment } from '../../shared/billing/payments.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'charge', 'one-off'>;

export async function chargeOneOffPayment({ paymentId }: Payload, ctx: JobContext): Promise<{ status: string }> {
  const payment = await findPayment(ctx.db, paymentId);
  if (!payment) throw new UnrecoverableError(`payment ${paymentId} does not exist`);
  if (payment.status !== 'PENDING') return { status: payment.status };

  const attempt = await attemptCharge(ctx, {
    request: { customerId: payment.customerId, amountCents: payment.amountCents, currency: payment.currency, reference: paymentId, idempotencyKey: chargeKeys.oneOff(paymentId) },
    claim: (leaseMs) => claimCharge(ctx.db, 'payments', paymentId, leaseMs),
    release: (lease) => releaseCharge(ctx.db, 'payments', paymentId, lease),
    refuse: async (reason) => void (await settlePayment(ctx.db, paymentId, { status: 'FAILED', reason })),
    holdBack: (reason) => recordUnsettledCharge(ctx.db, 'payments', paymentId, reason),
    // A one-off payment is charged once, under one key: no earlier outcome of it is ever recorded.
    recordedChargeIds: async () => [],
  });
  if (attempt.held) {
    const now = await findPayment(ctx.db, paymentId);
    if (now && now.status !== 'PENDING') return { status: now.status };
    throw await heldElsewhere(ctx.db, 'payments', paymentId);
  }
  const { result } = attempt;
  const status = result.charged ? 'PAID' : 'FAILED';
  await settlePayment(ctx.db, paymentId, { status, chargeId: result.chargeId, reason: result.charged ? undefined : 'insufficient balance' });
  ctx.log.info({ paymentId, outcome: status }, `one-off payment ${status.toLowerCase()}`);
  return { status };
}

export async function giveUpOneOffPayment({ paymentId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  if (error instanceof UnrecoverableError) return;
  await recordUnsettledCharge(ctx.db, 'payments', paymentId, `charge unresolved after ${ctx.job.attempt} attempts (${error.message}); retrying the job from the DLQ settles it`);
}
