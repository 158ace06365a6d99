// mail/send: render a recorded mail to a customer and send it once, keeping each failed try and the outcome on its row.
import { UnrecoverableError } from 'bullmq';
import type { JobData } from '../../queues/jobs.js';
import { findMail, markMailFailed, markMailSent, recordMailAttempt, type MailStatus } from '../../shared/mail/mails.js';
import { renderNotice, type RenderedNotice } from '../../shared/mail/notices.js';
import { CircuitOpenError } from '../../shared/platform/errors/circuit-open.js';
import type { SmtpAcceptance } from '../../shared/platform/smtp.js';
import type { JobContext } from '../types.js';

type Payload = JobData<'mail', 'send'>;

export interface MailSendResult {
  status: MailStatus;
  smtpMessageId: string | null;
  /** False when an earlier job had sent it already: this one sent nothing. */
  sentNow: boolean;
}

export async function sendMail({ mailId }: Payload, ctx: JobContext): Promise<MailSendResult> {
  const mail = await findMail(ctx.db, mailId);
  if (!mail) throw new UnrecoverableError(`mail ${mailId} does not exist`);
  // A second job for the mail, or a retry of this one, finds it sent: the customer gets it once.
  if (mail.status === 'sent') return { status: 'sent', smtpMessageId: mail.smtpMessageId, sentNow: false };

  let notice: RenderedNotice;
  try {
    notice = renderNotice(mail.kind, mail.data);
  } catch (err) {
    throw new UnrecoverableError(`mail ${mailId} cannot be rendered: ${(err as Error).message}`);
  }

  const finalAttempt = ctx.job.attempt >= ctx.job.maxAttempts;
  let accepted: SmtpAcceptance;
  try {
    accepted = await ctx.services.customerMailer.send({ id: mail.id, to: mail.to, ...notice }, { finalAttempt });
  } catch (err) {
    // An open circuit tried nothing and spends no attempt: the row keeps the failure that opened it.
    if (!(err instanceof CircuitOpenError)) {
      await recordMailAttempt(ctx.db, mailId, (err as Error).message).catch((dbErr: unknown) => ctx.log.warn({ err: dbErr, mailId }, 'could not record the failed try'));
    }
    throw err;
  }
  // Recorded at once: from here on a retry finds it sent. A crash just before this line sends it again, under the same Message-ID.
  await markMailSent(ctx.db, mailId, accepted);
  ctx.log.info({ mailId, kind: mail.kind, smtpMessageId: accepted.messageId }, 'mail sent to the customer');
  return { status: 'sent', smtpMessageId: accepted.messageId, sentNow: true };
}

/** Attempts exhausted, or a refusal no retry can mend: the mail is failed, with the reason GET shows. The job stays in the DLQ. */
export async function giveUpMail({ mailId }: Payload, ctx: JobContext, error: Error): Promise<void> {
  await markMailFailed(ctx.db, mailId, error.message);
}
