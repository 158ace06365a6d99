// Renders an internal invoice as a FatturaPA 1.2.2 document (FPR12, or FPA12 for a public administration buyer).
import { Big } from 'big.js';
import { create } from 'xmlbuilder2';
import type { Customer } from '../../access/customers.js';
import type { Invoice, InvoiceLine } from '../../invoices/invoice.js';
import { computeTotals, formatCents } from '../../platform/money.js';
import type { Seller } from '../seller.js';

export const FATTURAPA_NAMESPACE = 'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2';

export type TransmissionFormat = 'FPR12' | 'FPA12';

/** CodiceDestinatario: a public administration office has a 6-character code, everyone else 7. */
export function transmissionFormat(customer: Pick<Customer, 'sdiCode'>): TransmissionFormat {
  return customer.sdiCode.length === 6 ? 'FPA12' : 'FPR12';
}

export interface RenderInput {
  invoice: Invoice;
  lines: InvoiceLine[];
  customer: Customer;
  seller: Seller;
  transmitter: { country: string; code: string };
  progressive: string;
}

/** A decimal with at least 2 and at most 8 places, as Quantita and PrezzoUnitario require. */
export function formatDecimal(value: string): string {
  return new Big(value).toFixed(8).replace(/(\.\d\d\d*?)0+$/, '$1');
}

const formatRate = (rate: string) => new Big(rate).toFixed(2);

function address(a: { street: string; postalCode: string; city: string; province?: string | null; country: string }) {
  return {
    Indirizzo: a.street,
    CAP: a.postalCode,
    Comune: a.city,
    Provincia: a.province ?? undefined,
    Nazione: a.country,
  };
}

/** A VAT number as we store it (IT01234567890) split into FatturaPA's country and code. */
const idFiscale = (vatNumber: string) => ({ IdPaese: vatNumber.slice(0, 2), IdCodice: vatNumber.slice(2) });

/**
 * The document as a string. Element order is the schema's; absent optional values are left out.
 * Amounts come from integer cents and big.js, never floating point; text is escaped by the XML builder.
 */
export function renderFatturaPA({ invoice, lines, customer, seller, transmitter, progressive }: RenderInput): string {
  const format = transmissionFormat(customer);
  const totals = computeTotals(lines);
  const byPec = customer.sdiCode === '0000000' && customer.pec;

  const header = {
    DatiTrasmissione: {
      IdTrasmittente: { IdPaese: transmitter.country, IdCodice: transmitter.code },
      ProgressivoInvio: progressive,
      FormatoTrasmissione: format,
      CodiceDestinatario: customer.sdiCode,
      PECDestinatario: byPec ? customer.pec : undefined,
    },
    CedentePrestatore: {
      DatiAnagrafici: {
        IdFiscaleIVA: { IdPaese: seller.vat.country, IdCodice: seller.vat.code },
        CodiceFiscale: seller.fiscalCode,
        Anagrafica: { Denominazione: seller.name },
        RegimeFiscale: seller.regimeFiscale,
      },
      Sede: address(seller.address),
    },
    CessionarioCommittente: {
      DatiAnagrafici: {
        IdFiscaleIVA: customer.vatNumber ? idFiscale(customer.vatNumber) : undefined,
        CodiceFiscale: customer.fiscalCode ?? undefined,
        Anagrafica: { Denominazione: customer.name },
      },
      Sede: address(customer.address),
    },
  };

  const body = {
    DatiGenerali: {
      DatiGeneraliDocumento: {
        TipoDocumento: 'TD01',
        Divisa: invoice.currency,
        Data: invoice.issueDate,
        Numero: invoice.number,
        ImportoTotaleDocumento: formatCents(totals.totalCents),
      },
    },
    DatiBeniServizi: {
      DettaglioLinee: lines.map((line, i) => ({
        NumeroLinea: line.lineNumber,
        Descrizione: line.description,
        Quantita: formatDecimal(line.quantity),
        PrezzoUnitario: formatDecimal(line.unitPrice),
        PrezzoTotale: formatCents(totals.lineCents[i]!),
        AliquotaIVA: formatRate(line.vatRate),
        Natura: line.natura ?? undefined,
      })),
      DatiRiepilogo: totals.summaries.map((s) => ({
        AliquotaIVA: s.vatRate,
        Natura: s.natura,
        ImponibileImporto: formatCents(s.taxableCents),
        Imposta: formatCents(s.vatCents),
      })),
    },
    DatiPagamento: invoice.dueDate
      ? {
          CondizioniPagamento: 'TP02', // payment in full
          DettaglioPagamento: {
            ModalitaPagamento: 'MP08', // charged to the buyer's account with the payment provider
            DataScadenzaPagamento: invoice.dueDate,
            ImportoPagamento: formatCents(totals.totalCents),
          },
        }
      : undefined,
  };

  return create(
    { version: '1.0', encoding: 'UTF-8' },
    {
      'p:FatturaElettronica': {
        '@versione': format,
        '@xmlns:ds': 'http://www.w3.org/2000/09/xmldsig#',
        '@xmlns:p': FATTURAPA_NAMESPACE,
        '@xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance',
        FatturaElettronicaHeader: header,
        FatturaElettronicaBody: body,
      },
    },
  ).end({ prettyPrint: true });
}
