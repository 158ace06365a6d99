// Words of the mails to customers: each kind's data rendered as a plain-text subject and body, with nothing sent here.
import type { MailKind, OrderFailedNotice } from './mails.js';

export interface RenderedNotice {
  subject: string;
  text: string;
}

function orderFailed(notice: OrderFailedNotice): RenderedNotice {
  const amount = `${notice.amount} ${notice.currency}`;
  return {
    subject: `Your order ${notice.orderId} could not be completed`,
    text: [
      `Hello ${notice.customerName},`,
      '',
      `We could not complete your order ${notice.orderId} for ${amount}.`,
      `Reason: ${notice.reason.replace(/\.+$/, '')}.`,
      '',
      'What you can do:',
      '- top up your account, or choose another payment method, then place the order again;',
      `- for any question, reply to this email or contact our support team, quoting order ${notice.orderId}.`,
      '',
      `Order: ${notice.orderId}`,
      `Amount: ${amount}`,
      `Customer: ${notice.customerId}`,
      '',
      'Antaeus',
      '',
    ].join('\n'),
  };
}

// One function per kind: a plain notice needs no template engine, and a new kind that is not rendered does not compile.
const renderers: { [K in MailKind]: (data: OrderFailedNotice) => RenderedNotice } = {
  'order-failed': orderFailed,
};

/** The subject and plain-text body of a mail; throws on a kind this release does not know (a row written by a newer one). */
export function renderNotice(kind: MailKind, data: OrderFailedNotice): RenderedNotice {
  const render = renderers[kind];
  if (!render) throw new Error(`no notice for mail kind ${JSON.stringify(kind)}`);
  return render(data);
}
