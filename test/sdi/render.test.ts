// FatturaPA rendering: every document validates against the official 1.2.2 schema, amounts are exact, text is escaped.
import { expect } from 'chai';
import type { Customer } from '../../shared/access/customers.js';
import { invoiceDocumentSchema } from '../../shared/invoices/document.js';
import { invoiceFromDocument } from '../../shared/invoices/invoice.js';
import { loadConfig } from '../../shared/platform/config.js';
import { find, childElements, parseXmlRoot, textAt } from '../../shared/sdi/fatturapa/dom.js';
import { formatDecimal, renderFatturaPA } from '../../shared/sdi/fatturapa/render.js';
import { createXsdValidator, INVOICE_XSD } from '../../shared/sdi/fatturapa/xsd.js';
import { sellerOf, transmitterOf } from '../../shared/sdi/seller.js';

const config = loadConfig({});
const xsd = createXsdValidator();

const rossi: Customer = {
  id: 'rossi',
  name: 'Rossi Forniture S.r.l.',
  vatNumber: 'IT01879020517',
  fiscalCode: null,
  address: { street: 'Via Roma 12', postalCode: '00184', city: 'Roma', province: 'RM', country: 'IT' },
  sdiCode: 'M5UXCR1',
  pec: null,
  currency: 'EUR',
  email: 'billing@rossi.example',
  username: 'rossi',
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
};

function render(lines: Record<string, unknown>[], customer: Customer = rossi, extra: Record<string, unknown> = {}) {
  const document = invoiceDocumentSchema.parse({ customerId: customer.id, number: 'FT-2026/042', issueDate: '2026-11-02', currency: customer.currency, lines, ...extra });
  const { invoice, lines: stored } = invoiceFromDocument({ id: 'i1', kind: 'internal', document, acceptedAt: '2026-11-02T10:00:00.000Z', submittedBy: 'u1' });
  const xml = renderFatturaPA({ invoice, lines: stored, customer, seller: sellerOf(config), transmitter: transmitterOf(config), progressive: '0000Z' });
  return { xml, root: parseXmlRoot(xml) };
}

async function expectValid(xml: string) {
  const result = await xsd.validate(xml, INVOICE_XSD);
  expect(result.errors, xml.slice(0, 2000)).to.deep.equal([]);
  expect(result.valid).to.equal(true);
}

const summaries = (root: ReturnType<typeof parseXmlRoot>) =>
  childElements(find(root, 'FatturaElettronicaBody', 'DatiBeniServizi'), 'DatiRiepilogo').map((s) => ({
    rate: textAt(s, 'AliquotaIVA'),
    natura: textAt(s, 'Natura'),
    taxable: textAt(s, 'ImponibileImporto'),
    vat: textAt(s, 'Imposta'),
  }));

const total = (root: ReturnType<typeof parseXmlRoot>) => textAt(root, 'FatturaElettronicaBody', 'DatiGenerali', 'DatiGeneraliDocumento', 'ImportoTotaleDocumento');

describe('FatturaPA rendering', function () {
  after(() => xsd.close());
  this.timeout(20_000);

  it('renders one VAT rate: lines, one summary, the total, FPR12', async () => {
    const { xml, root } = render([{ description: 'Consulenza', quantity: '3', unitPrice: '33.33', vatRate: '22' }]);
    await expectValid(xml);
    expect(root.localName).to.equal('FatturaElettronica');
    expect(xml).to.contain('versione="FPR12"');
    expect(textAt(root, 'FatturaElettronicaHeader', 'DatiTrasmissione', 'FormatoTrasmissione')).to.equal('FPR12');
    expect(textAt(root, 'FatturaElettronicaHeader', 'DatiTrasmissione', 'CodiceDestinatario')).to.equal('M5UXCR1');
    expect(summaries(root)).to.deep.equal([{ rate: '22.00', natura: undefined, taxable: '99.99', vat: '22.00' }]);
    expect(total(root)).to.equal('121.99');
  });

  it('renders several rates with a summary each, VAT rounded once per rate', async () => {
    const { xml, root } = render([
      { description: 'A', quantity: '1', unitPrice: '0.10', vatRate: '22' },
      { description: 'B', quantity: '1', unitPrice: '0.10', vatRate: '22' },
      { description: 'C', quantity: '2.5', unitPrice: '10.01', vatRate: '10' },
      { description: 'D', quantity: '1', unitPrice: '9.99', vatRate: '4' },
    ]);
    await expectValid(xml);
    expect(summaries(root)).to.deep.equal([
      { rate: '22.00', natura: undefined, taxable: '0.20', vat: '0.04' },
      { rate: '10.00', natura: undefined, taxable: '25.03', vat: '2.50' },
      { rate: '4.00', natura: undefined, taxable: '9.99', vat: '0.40' },
    ]);
    expect(total(root)).to.equal('38.16');
  });

  it('renders a 0% line with its Natura, in the line and in its own summary', async () => {
    const { xml, root } = render([
      { description: 'Servizio', quantity: '1', unitPrice: '100', vatRate: '22' },
      { description: 'Bollo virtuale', quantity: '1', unitPrice: '2', vatRate: '0', natura: 'N1' },
      { description: 'Operazione non imponibile', quantity: '1', unitPrice: '50', vatRate: '0', natura: 'N3.1' },
    ]);
    await expectValid(xml);
    const lines = childElements(find(root, 'FatturaElettronicaBody', 'DatiBeniServizi'), 'DettaglioLinee');
    expect(lines.map((l) => [textAt(l, 'AliquotaIVA'), textAt(l, 'Natura')])).to.deep.equal([
      ['22.00', undefined],
      ['0.00', 'N1'],
      ['0.00', 'N3.1'],
    ]);
    expect(summaries(root)).to.deep.equal([
      { rate: '22.00', natura: undefined, taxable: '100.00', vat: '22.00' },
      { rate: '0.00', natura: 'N1', taxable: '2.00', vat: '0.00' },
      { rate: '0.00', natura: 'N3.1', taxable: '50.00', vat: '0.00' },
    ]);
    expect(total(root)).to.equal('174.00');
  });

  it('keeps accented names and escapes markup characters', async () => {
    const customer = { ...rossi, name: 'Società Cooperativa "L\'Àncora" & Figli', address: { ...rossi.address, city: 'Forlì' } };
    const { xml, root } = render([{ description: 'Attività <speciale> di manutenzione è più', quantity: '1', unitPrice: '10', vatRate: '22' }], customer);
    await expectValid(xml);
    expect(xml).to.contain('&lt;speciale&gt;');
    expect(xml).to.contain('&amp; Figli');
    expect(textAt(root, 'FatturaElettronicaHeader', 'CessionarioCommittente', 'DatiAnagrafici', 'Anagrafica', 'Denominazione')).to.equal(customer.name);
    expect(textAt(root, 'FatturaElettronicaHeader', 'CessionarioCommittente', 'Sede', 'Comune')).to.equal('Forlì');
    expect(textAt(find(root, 'FatturaElettronicaBody', 'DatiBeniServizi', 'DettaglioLinee'), 'Descrizione')).to.equal('Attività <speciale> di manutenzione è più');
  });

  it('renders 200 lines with exact totals', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => ({ description: `Riga ${i + 1}`, quantity: '1.5', unitPrice: '0.07', vatRate: i % 2 ? '22' : '10' }));
    const { xml, root } = render(lines);
    await expectValid(xml);
    expect(childElements(find(root, 'FatturaElettronicaBody', 'DatiBeniServizi'), 'DettaglioLinee')).to.have.length(200);
    // Each line is 1.5 × 0.07 = 0.105 → 0.11; 100 lines per rate → 11.00; VAT 2.42 and 1.10.
    expect(summaries(root)).to.deep.equal([
      { rate: '10.00', natura: undefined, taxable: '11.00', vat: '1.10' },
      { rate: '22.00', natura: undefined, taxable: '11.00', vat: '2.42' },
    ]);
    expect(total(root)).to.equal('25.52');
  });

  it('renders FPA12 for a public administration office (6-character code)', async () => {
    const comune = { ...rossi, vatNumber: null, fiscalCode: '80003490549', sdiCode: 'UFABCD', name: 'Comune di Città della Pieve' };
    const { xml, root } = render([{ description: 'Servizio', quantity: '1', unitPrice: '100', vatRate: '22' }], comune);
    await expectValid(xml);
    expect(xml).to.contain('versione="FPA12"');
    expect(textAt(root, 'FatturaElettronicaHeader', 'DatiTrasmissione', 'FormatoTrasmissione')).to.equal('FPA12');
    expect(textAt(root, 'FatturaElettronicaHeader', 'CessionarioCommittente', 'DatiAnagrafici', 'CodiceFiscale')).to.equal('80003490549');
    expect(find(root, 'FatturaElettronicaHeader', 'CessionarioCommittente', 'DatiAnagrafici', 'IdFiscaleIVA')).to.equal(undefined);
  });

  it('addresses a buyer without an SdI code through its PEC, and a foreign buyer with XXXXXXX', async () => {
    const byPec = render([{ description: 'x', quantity: '1', unitPrice: '1', vatRate: '22' }], { ...rossi, sdiCode: '0000000', pec: 'studio@pec.example.it' });
    await expectValid(byPec.xml);
    expect(textAt(byPec.root, 'FatturaElettronicaHeader', 'DatiTrasmissione', 'PECDestinatario')).to.equal('studio@pec.example.it');

    const danish = { ...rossi, vatNumber: 'DK28495867', sdiCode: 'XXXXXXX', currency: 'DKK', address: { street: 'Nørrebrogade 44', postalCode: '00000', city: 'København', province: null, country: 'DK' } };
    const abroad = render([{ description: 'x', quantity: '1', unitPrice: '1', vatRate: '0', natura: 'N3.2' }], danish);
    await expectValid(abroad.xml);
    expect(textAt(abroad.root, 'FatturaElettronicaBody', 'DatiGenerali', 'DatiGeneraliDocumento', 'Divisa')).to.equal('DKK');
    expect(textAt(abroad.root, 'FatturaElettronicaHeader', 'CessionarioCommittente', 'DatiAnagrafici', 'IdFiscaleIVA', 'IdPaese')).to.equal('DK');
  });

  it('writes the due date as payment terms', async () => {
    const { xml, root } = render([{ description: 'x', quantity: '1', unitPrice: '10', vatRate: '22' }], rossi, { dueDate: '2026-12-02' });
    await expectValid(xml);
    expect(textAt(root, 'FatturaElettronicaBody', 'DatiPagamento', 'DettaglioPagamento', 'DataScadenzaPagamento')).to.equal('2026-12-02');
    expect(textAt(root, 'FatturaElettronicaBody', 'DatiPagamento', 'DettaglioPagamento', 'ImportoPagamento')).to.equal('12.20');
  });

  it('formats quantities and prices with 2 to 8 decimals, never through floating point', () => {
    expect(formatDecimal('3')).to.equal('3.00');
    expect(formatDecimal('3.1')).to.equal('3.10');
    expect(formatDecimal('0.125')).to.equal('0.125');
    expect(formatDecimal('10.12345678')).to.equal('10.12345678');
    expect(formatDecimal('-1.50000')).to.equal('-1.50');
    expect(formatDecimal('12345678901.1')).to.equal('12345678901.10');
  });
});
