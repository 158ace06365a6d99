// The dunning schedule as pure functions: after a declined charge, when to try again, or that it is over; and what a provider answer comes to.
import type { InvoiceChargeOutcome } from './invoice-charges.js';
import type { ChargeResult } from './provider/provider.js';
export type AfterDecline = { final: true; attempts: number } | { final: false; nextStep: number; nextAt: Date };

const DAY_MS = 86_400_000;

/**
 * `step` is the attempt that was just declined (0 for the first charge); `dunningDays[i]` is the wait in days
 * after the decline of attempt i. So `1,3,7` makes four attempts: day 0, then 1, 3 and 7 days after each decline.
 */
export function afterDecline(step: number, dunningDays: readonly number[], now: Date): AfterDecline {
  const waitDays = dunningDays[step];
  if (waitDays === undefined) return { final: true, attempts: step + 1 };
  return { final: false, nextStep: step + 1, nextAt: new Date(now.getTime() + Math.round(waitDays * DAY_MS)) };
}

/** What the provider's answer to the charge at dunning step `step` comes to: paid, declined with the next attempt, or failed for good. */
export function chargeOutcome(result: ChargeResult, step: number, dunningDays: readonly number[], now: Date): InvoiceChargeOutcome {
  if (result.charged) return { status: 'PAID', chargeId: result.chargeId };
  const next = afterDecline(step, dunningDays, now);
  if (next.final) {
    return { status: 'FAILED', chargeId: result.chargeId, reason: `insufficient balance: declined ${next.attempts} time${next.attempts === 1 ? '' : 's'}` };
  }
  return { status: 'DECLINED', chargeId: result.chargeId, reason: 'insufficient balance', nextStep: next.nextStep, nextChargeAt: next.nextAt.toISOString() };
}
