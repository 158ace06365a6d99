// Standard Webhooks headers for a message: the same webhook-id on every attempt, one v1 signature per active secret.
import { Webhook } from 'standardwebhooks';

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function signWebhook(messageId: string, payload: string, secrets: string[], at: Date = new Date()): WebhookHeaders {
  // During a rotation both secrets sign; the library accepts a message if any listed signature matches.
  const signatures = secrets.map((secret) => new Webhook(secret).sign(messageId, at, payload));
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
