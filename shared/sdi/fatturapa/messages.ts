// The SdI's receipts (MessaggiTypes v1.1): reading the three that settle an invoice, and writing them for the simulator.
import { create } from 'xmlbuilder2';
import type { SdiOutcome } from '../notifications.js';
import { readReceiptXml, type ParsedReceipt, type SdiError } from './receipt-parser.js';

export const MESSAGES_NAMESPACE = 'http://www.fatturapa.gov.it/sdi/messaggi/v1.0';

/** The receipts that settle an invoice, and the outcome each one means. */
export const RECEIPT_OUTCOMES = {
  RicevutaConsegna: 'DELIVERED',
  NotificaScarto: 'DISCARDED',
  NotificaMancataConsegna: 'NOT_DELIVERED',
} as const satisfies Record<string, SdiOutcome>;

export type ReceiptType = keyof typeof RECEIPT_OUTCOMES;

export type { ParsedReceipt, SdiError } from './receipt-parser.js';

export const isSettlingReceipt = (messageType: string): messageType is ReceiptType => Object.hasOwn(RECEIPT_OUTCOMES, messageType);

/**
 * Reads what a receipt says, in one bounded streaming pass (receipt-parser.ts), before or without schema validation;
 * throws XmlParseError on what is not well-formed XML, has a DOCTYPE, or is built too deep or too wide to be a receipt.
 */
export function parseSdiReceipt(xml: string): ParsedReceipt {
  return readReceiptXml(xml);
}

export interface ReceiptInput {
  type: ReceiptType;
  sdiIdentifier: string;
  fileName: string;
  messageId: string;
  receivedAt: Date;
  /** RicevutaConsegna: who it was delivered to. */
  recipient?: { code: string; description: string };
  /** NotificaScarto: why it was discarded (1 to 200 errors). */
  errors?: SdiError[];
  /** NotificaMancataConsegna: why it could not be delivered. */
  description?: string;
}

// xs:dateTime without fractions, as the SdI writes it.
const dateTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Writes a receipt as the SdI would. The schema requires an XML signature; the simulator's is well-formed but
 * signs nothing (its values are placeholders), which is why receipts are trusted by channel, not by signature.
 */
export function buildSdiReceipt(r: ReceiptInput): string {
  const body: Record<string, unknown> = {
    IdentificativoSdI: r.sdiIdentifier,
    NomeFile: r.fileName,
    DataOraRicezione: dateTime(r.receivedAt),
  };
  if (r.type === 'RicevutaConsegna') {
    body.DataOraConsegna = dateTime(new Date());
    body.Destinatario = { Codice: r.recipient?.code ?? '0000000', Descrizione: r.recipient?.description ?? 'destinatario' };
  }
  if (r.type === 'NotificaScarto') {
    body.ListaErrori = {
      Errore: (r.errors ?? []).slice(0, 200).map((e) => ({ Codice: e.code, Descrizione: e.description.slice(0, 255) })),
    };
  }
  if (r.type === 'NotificaMancataConsegna' && r.description) body.Descrizione = r.description.slice(0, 255);
  body.MessageId = r.messageId;
  body['ds:Signature'] = {
    'ds:SignedInfo': {
      'ds:CanonicalizationMethod': { '@Algorithm': 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315' },
      'ds:SignatureMethod': { '@Algorithm': 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256' },
      'ds:Reference': {
        '@URI': '',
        'ds:DigestMethod': { '@Algorithm': 'http://www.w3.org/2001/04/xmlenc#sha256' },
        'ds:DigestValue': 'AAAA',
      },
    },
    'ds:SignatureValue': 'AAAA',
  };
  return create(
    { version: '1.0', encoding: 'UTF-8' },
    {
      [`types:${r.type}`]: {
        '@xmlns:types': MESSAGES_NAMESPACE,
        '@xmlns:ds': 'http://www.w3.org/2000/09/xmldsig#',
        '@versione': '1.0',
        ...body,
      },
    },
  ).end({ prettyPrint: true });
}
