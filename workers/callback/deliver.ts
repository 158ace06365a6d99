// callback/deliver: one attempt to POST a signed message to a client's callback URL; on the last, the message is given up.
import type { JobData } from '../../queues/jobs.js';
import { deliverMessage } from '../../shared/callbacks/delivery.js';
import { markMessageFailed } from '../../shared/callbacks/messages.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'callback', 'deliver'>;

export async function deliverCallback({ messageId }: Payload, ctx: JobContext): Promise<{ outcome: string; statusCode?: number }> {
  return deliverMessage(ctx, messageId, ctx.job.attempt);
}

export async function giveUpCallback({ messageId }: Payload, ctx: JobContext): Promise<void> {
  await markMessageFailed(ctx.db, messageId);
}
