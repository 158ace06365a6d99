// Customer mail end to end: a recorded notice is sent once by a mail fleet to a real SMTP server, retried through an outage, failed when refused or exhausted.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import PostalMime, { type Email } from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import { jobIds } from '../../queues/jobs.js';
import { freePort } from '../../scripts/redis-server.js';
import { findMail, listMails, recordMail, type NewMail } from '../../shared/mail/mails.js';
import { giveUpMail, sendMail } from '../../workers/mail/send.js';
import type { HandlerRegistry } from '../../workers/types.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

interface Received {
  envelopeTo: string[];
  email: Email;
}

/** A real SMTP server on a given port, to stop and start again: it keeps what it takes, or refuses every recipient for good. */
class SmtpStandIn {
  readonly received: Received[] = [];
  private constructor(private readonly server: SMTPServer) {}

  static async start(port: number, options: { refuseWith?: string } = {}): Promise<SmtpStandIn> {
    let standIn: SmtpStandIn | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 200,
      onRcptTo(_address, _session, callback) {
        if (!options.refuseWith) return callback();
        callback(Object.assign(new Error(options.refuseWith), { responseCode: 550 }));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          PostalMime.parse(Buffer.concat(chunks)).then((email) => {
            standIn!.received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), email });
            callback();
          }, callback);
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    standIn = new SmtpStandIn(server);
    return standIn;
  }

  get port(): number {
    return (this.server.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const handlers: Partial<HandlerRegistry> = { mail: { send: { run: sendMail, giveUp: giveUpMail } } };

const orderFailed = (orderId = `ord_${randomUUID()}`): NewMail => ({
  kind: 'order-failed',
  to: 'ada@customer.example',
  subject: { type: 'order', id: orderId },
  data: { orderId, customerId: 'cus_ada', customerName: 'Ada Lovelace', amount: '12.50', currency: 'EUR', reason: 'insufficient balance' },
});

describe('customer mail', () => {
  const opened = closedAfterEach();
  let smtpPort: number;
  let system: TestSystem;

  /** A system whose SMTP_URL points at `smtpPort`, where no server listens until a test starts one. */
  async function startSystem(env: Record<string, string> = {}) {
    smtpPort = await freePort();
    system = opened(await createTestSystem({ SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, SMTP_TIMEOUT_MS: '2000', ...env }));
  }

  async function queueMail(mail: NewMail, jobId?: string): Promise<string> {
    const id = await recordMail(system.ctx.db, mail);
    await system.ctx.queues.add('mail', 'send', { mailId: id }, { jobId: jobId ?? jobIds.mail(id) });
    return id;
  }

  const settled = (id: string, status: 'sent' | 'failed') =>
    waitFor(async () => {
      const mail = await findMail(system.ctx.db, id);
      return mail?.status === status && mail;
    }, { what: `mail ${status}` });

  it('records one notice per subject and kind, inside a transaction too', async () => {
    await startSystem();
    const mail = orderFailed();
    const first = await system.ctx.db.transaction((trx) => recordMail(trx, mail));
    const again = await recordMail(system.ctx.db, { ...mail, to: 'someone-else@customer.example' });
    expect(again).to.equal(first);
    const [view, ...more] = await listMails(system.ctx.db, mail.subject);
    expect(more).to.deep.equal([]);
    expect(view).to.deep.include({ id: first, kind: 'order-failed', to: 'ada@customer.example', status: 'pending', attempts: 0, lastError: null, sentAt: null });

    // A rolled-back transaction owes no mail.
    const rolledBack = orderFailed();
    await system.ctx.db
      .transaction(async (trx) => {
        await recordMail(trx, rolledBack);
        throw new Error('the order did not move');
      })
      .catch(() => undefined);
    expect(await listMails(system.ctx.db, rolledBack.subject)).to.deep.equal([]);
  });

  it('sends a recorded notice once, saying what failed and what to do, under a stable Message-ID', async () => {
    await startSystem();
    const smtp = opened(await SmtpStandIn.start(smtpPort));
    const mail = orderFailed();
    const id = await queueMail(mail);
    system.startWorkers(['mail'], handlers);

    const sent = await settled(id, 'sent');
    expect(smtp.received).to.have.length(1);
    const [{ envelopeTo, email }] = smtp.received as [Received];
    expect(envelopeTo).to.deep.equal(['ada@customer.example']);
    expect(email.from?.address).to.equal('noreply@antaeus.example');
    expect(email.to?.map((a) => a.address)).to.deep.equal(['ada@customer.example']);
    expect(email.subject).to.contain(mail.data.orderId);
    expect(email.html).to.equal(undefined);
    for (const words of [mail.data.orderId, '12.50 EUR', 'insufficient balance', 'Ada Lovelace', 'top up your account', 'another payment method', 'reply to this email']) {
      expect(email.text).to.contain(words);
    }
    expect(email.messageId).to.equal(`<mail-${id}@antaeus.example>`);
    expect(sent).to.include({ attempts: 1, lastError: null, smtpMessageId: `<mail-${id}@antaeus.example>` });
    expect(sent.smtpResponse).to.match(/^250/);
    expect((await listMails(system.ctx.db, mail.subject))[0]).to.include({ status: 'sent', sentAt: sent.sentAt });

    // A second job for the same mail, and a retry of the first, find it sent and send nothing.
    const events = await system.events('mail');
    const second = await system.ctx.queues.add('mail', 'send', { mailId: id }, { jobId: `${jobIds.mail(id)}-again` });
    expect(await second.waitUntilFinished(events)).to.deep.equal({ status: 'sent', smtpMessageId: sent.smtpMessageId, sentNow: false });
    const first = (await system.ctx.queues.getJob('mail', jobIds.mail(id)))!;
    await first.retry('completed');
    await waitFor(async () => (await first.getState()) === 'completed' && (await system.ctx.queues.getJob('mail', jobIds.mail(id)))!.returnvalue?.sentNow === false, {
      what: 'the retried job completed',
    });
    expect(smtp.received).to.have.length(1);
  });

  it('sends a duplicate under the same Message-ID when the acceptance was never recorded', async () => {
    await startSystem();
    const smtp = opened(await SmtpStandIn.start(smtpPort));
    const id = await queueMail(orderFailed());
    system.startWorkers(['mail'], handlers);
    await settled(id, 'sent');

    // As if the worker died after the server took the mail and before the database heard of it.
    await system.ctx.db('mails').where({ id }).update({ status: 'pending', sent_at: null });
    await system.ctx.queues.add('mail', 'send', { mailId: id }, { jobId: `${jobIds.mail(id)}-after-crash` });
    await settled(id, 'sent');
    expect(smtp.received.map((r) => r.email.messageId)).to.deep.equal([`<mail-${id}@antaeus.example>`, `<mail-${id}@antaeus.example>`]);
  });

  it('retries while SMTP is down, keeping each failure on the mail, and sends it once the server is back', async () => {
    await startSystem({ JOB_ATTEMPTS: 'mail=10' });
    const id = await queueMail(orderFailed());
    system.startWorkers(['mail'], handlers);

    const retrying = await waitFor(async () => {
      const mail = await findMail(system.ctx.db, id);
      return mail && mail.attempts >= 2 && mail;
    }, { what: 'two failed tries recorded' });
    expect(retrying.status).to.equal('pending');
    expect(retrying.lastError).to.match(/SMTP send failed/);
    expect((await listMails(system.ctx.db, retrying.subject))[0]!.lastError).to.match(/SMTP send failed/);

    const smtp = opened(await SmtpStandIn.start(smtpPort));
    const sent = await settled(id, 'sent');
    expect(smtp.received).to.have.length(1);
    expect(sent.attempts).to.be.greaterThan(retrying.attempts);
    expect(sent.lastError).to.equal(null);
  });

  it('fails a mail the server refuses for good at once, with the reason, and spends no more attempts', async () => {
    await startSystem({ JOB_ATTEMPTS: 'mail=3' });
    opened(await SmtpStandIn.start(smtpPort, { refuseWith: '5.1.1 mailbox unavailable' }));
    const id = await queueMail(orderFailed());
    system.startWorkers(['mail'], handlers);

    const failed = await settled(id, 'failed');
    expect(failed.lastError).to.match(/SMTP server refused the message.*mailbox unavailable/);
    expect(failed.attempts).to.equal(1);
    const job = await waitFor(async () => {
      const found = await system.ctx.queues.getJob('mail', jobIds.mail(id));
      return (await found?.getState()) === 'failed' && found;
    }, { what: 'the job in the failed set' });
    expect(job.attemptsMade).to.equal(1);
  });

  it('fails a mail when its attempts run out, and an operator retry from the DLQ sends it once SMTP is back', async () => {
    await startSystem({ JOB_ATTEMPTS: 'mail=3' });
    const id = await queueMail(orderFailed());
    system.startWorkers(['mail'], handlers);

    const failed = await settled(id, 'failed');
    expect(failed.attempts).to.equal(3);
    expect(failed.lastError).to.match(/SMTP send failed/);
    const job = await waitFor(async () => {
      const found = await system.ctx.queues.getJob('mail', jobIds.mail(id));
      return (await found?.getState()) === 'failed' && found;
    }, { what: 'the job in the failed set' });

    const smtp = opened(await SmtpStandIn.start(smtpPort));
    await job.retry('failed');
    const sent = await settled(id, 'sent');
    expect(smtp.received).to.have.length(1);
    expect(sent.attempts).to.equal(4);
  });

  it('fails at once a job for a mail that was never recorded', async () => {
    await startSystem();
    const events = await system.events('mail');
    system.startWorkers(['mail'], handlers);
    const job = await system.ctx.queues.add('mail', 'send', { mailId: 'no-such-mail' }, { jobId: jobIds.mail('no-such-mail') });
    const error = await job.waitUntilFinished(events).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).to.contain('mail no-such-mail does not exist');
    expect((await system.ctx.queues.getJob('mail', job.id!))!.attemptsMade).to.equal(1);
  });
});
