// One delivery attempt of a callback message: the URL checked against SSRF again, signed with every active secret, POSTed, recorded.
import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import type { Config } from '../platform/config.js';
import { RetryableError } from '../platform/errors/retryable.js';
import { parseRetryAfter, postJson } from '../platform/http.js';
import { assertSafeUrl, guardedLookup, isRefusal } from '../platform/ssrf.js';
import { findMessage, recordAttempt, type DeliveryAttempt } from './messages.js';
import { callbackOutcome } from './outcome.js';
import { signingSecrets } from './secrets.js';
import { signWebhook } from './signature.js';

export interface DeliveryContext {
  db: Knex;
  config: Pick<Config, 'callbackAllowedHosts' | 'callbackTimeoutMs'>;
}

/**
 * Makes attempt number `attempt` to deliver the message, and records it. Resolves when the message is delivered or
 * was settled before; throws RetryableError when another attempt may succeed, UnrecoverableError when none can.
 */
export async function deliverMessage(ctx: DeliveryContext, messageId: string, attempt: number): Promise<{ outcome: string; statusCode?: number }> {
  const message = await findMessage(ctx.db, messageId);
  if (!message) throw new UnrecoverableError(`callback message ${messageId} does not exist`);
  // A retried job for a settled message must not send it again.
  if (message.status !== 'pending') return { outcome: message.status };

  const allow = ctx.config.callbackAllowedHosts;
  const secrets = await signingSecrets(ctx.db, message.userId);
  const started = new Date();
  const record = (fields: Pick<DeliveryAttempt, 'statusCode' | 'error' | 'outcome'>): DeliveryAttempt => ({
    attempt,
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    ...fields,
  });

  let statusCode: number;
  let retryAfter: string | undefined;
  try {
    // Checked again at delivery: the host may resolve elsewhere than when the URL was submitted.
    const url = await assertSafeUrl(message.url, allow);
    const headers = signWebhook(message.id, message.payload, secrets.map((s) => s.secret), started);
    const response = await postJson(url, message.payload, {
      headers: { ...headers, 'user-agent': 'Antaeus-Webhooks/1.0' },
      timeoutMs: ctx.config.callbackTimeoutMs,
      lookup: guardedLookup(allow),
    });
    statusCode = response.statusCode;
    retryAfter = [response.headers['retry-after']].flat()[0];
  } catch (err) {
    const error = (err as Error).message;
    // A refused address fails for good; a lookup that timed out falls through to another attempt.
    if (isRefusal(err)) {
      await recordAttempt(ctx.db, messageId, record({ statusCode: null, error, outcome: 'failed' }), 'failed');
      throw new UnrecoverableError(`callback URL refused: ${error}`);
    }
    await recordAttempt(ctx.db, messageId, record({ statusCode: null, error, outcome: 'retry' }));
    throw new RetryableError(`callback failed: ${error}`);
  }

  const outcome = callbackOutcome(statusCode);
  const settled = outcome === 'retry' ? undefined : outcome;
  await recordAttempt(ctx.db, messageId, record({ statusCode, error: null, outcome }), settled);
  if (outcome === 'delivered') return { outcome, statusCode };
  if (outcome === 'retry') throw new RetryableError(`callback answered ${statusCode}`, parseRetryAfter(retryAfter));
  throw new UnrecoverableError(`callback answered ${statusCode}: not retried`);
}
