// charge/one-off: charge a one-off payment asked for through the API, exactly once; no dunning, a decline fails it.
import { UnrecoverableError } from 'bullmq';
import type { JobData } from '../../queues/jobs.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { chargeKey } from '../../shared/platform/ids.js';
import { claimCharge, recordUnsettledCharge, releaseCharge, settleOneOffPayment } from '../../shared/billing/charging.js';
import { findPayment } from '../../shared/billing/payments.js';
import { CurrencyMismatchError, CustomerNotFoundError, type ChargeResult } from '../../shared/billing/provider/provider.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'charge', 'one-off'>;

export async function chargeOneOffPayment({ paymentId }: Payload, ctx: JobContext): Promise<{ status: string }> {
  const payment = await findPayment(ctx.db, paymentId);
  if (!payment) throw new UnrecoverableError(`payment ${paymentId} does not exist`);
  if (payment.status !== 'PENDING') return { status: payment.status };

  const lease = await claimCharge(ctx.db, 'payments', paymentId, 2 * ctx.config.paymentProviderTimeoutMs);
  if (!lease) {
    const now = await findPayment(ctx.db, paymentId);
    if (now && now.status !== 'PENDING') return { status: now.status };
    throw new RetryableError('another attempt holds this payment’s charge', 2 * ctx.config.paymentProviderTimeoutMs);
  }

  let result: ChargeResult;
  try {
    result = await ctx.services.payments.charge({
      customerId: payment.customerId,
      amountCents: payment.amountCents,
      currency: payment.currency,
      reference: paymentId,
      idempotencyKey: chargeKey('payment', paymentId),
    });
  } catch (err) {
    if (err instanceof CustomerNotFoundError || err instanceof CurrencyMismatchError) {
      await settleOneOffPayment(ctx.db, paymentId, { status: 'FAILED', reason: err.message });
      throw new UnrecoverableError(err.message);
    }
    await releaseCharge(ctx.db, 'payments', paymentId, lease).catch(() => undefined);
    throw err;
  }
  const status = result.charged ? 'PAID' : 'FAILED';
  await settleOneOffPayment(ctx.db, paymentId, { status, chargeId: result.chargeId, reason: result.charged ? undefined : 'insufficient balance' });
  ctx.log.info({ paymentId, outcome: status }, `one-off payment ${status.toLowerCase()}`);
  return { status };
}

export async function giveUpOneOffPayment({ paymentId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  if (error instanceof UnrecoverableError) return;
  await recordUnsettledCharge(ctx.db, 'payments', paymentId, `charge unresolved after ${ctx.job.attempt} attempts (${error.message}); retrying the job from the DLQ settles it`);
}
