// callback/deliver: POST one signed message to a client's callback URL and record the attempt.
import { UnrecoverableError } from 'bullmq';
import type { JobData } from '../../queues/jobs.js';
import { callbackOutcome, parseRetryAfter } from '../../queues/policy.js';
import { findMessage, markMessageFailed, recordAttempt, type DeliveryAttempt } from '../../shared/callbacks/messages.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { postJson } from '../../shared/platform/http.js';
import { allowlistFor, assertSafeUrl, guardedLookup, UnsafeUrlError } from '../../shared/platform/ssrf.js';
import { signingSecrets } from '../../shared/callbacks/secrets.js';
import { signWebhook } from '../../shared/callbacks/signature.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'callback', 'deliver'>;

export async function deliverCallback({ messageId }: Payload, ctx: JobContext): Promise<{ outcome: string; statusCode?: number }> {
  const message = await findMessage(ctx.db, messageId);
  if (!message) throw new UnrecoverableError(`callback message ${messageId} does not exist`);
  // A retried job for a settled message must not send it again.
  if (message.status !== 'pending') return { outcome: message.status };

  const allow = allowlistFor(ctx.config.callbackAllowedHosts);
  const secrets = await signingSecrets(ctx.db, message.userId);
  const started = new Date();
  const attempt = (fields: Pick<DeliveryAttempt, 'statusCode' | 'error' | 'outcome'>): DeliveryAttempt => ({
    attempt: ctx.job.attempt,
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
    if (err instanceof UnsafeUrlError || err instanceof Error && err.cause instanceof UnsafeUrlError) {
      await recordAttempt(ctx.db, messageId, attempt({ statusCode: null, error, outcome: 'failed' }), 'failed');
      throw new UnrecoverableError(`callback URL refused: ${error}`);
    }
    await recordAttempt(ctx.db, messageId, attempt({ statusCode: null, error, outcome: 'retry' }));
    throw new RetryableError(`callback failed: ${error}`);
  }

  const outcome = callbackOutcome(statusCode);
  const settled = outcome === 'retry' ? undefined : outcome;
  await recordAttempt(ctx.db, messageId, attempt({ statusCode, error: null, outcome }), settled);
  if (outcome === 'delivered') return { outcome, statusCode };
  if (outcome === 'retry') throw new RetryableError(`callback answered ${statusCode}`, parseRetryAfter(retryAfter));
  throw new UnrecoverableError(`callback answered ${statusCode}: not retried`);
}

export async function giveUpCallback({ messageId }: Payload, ctx: JobContext): Promise<void> {
  await markMessageFailed(ctx.db, messageId);
}
