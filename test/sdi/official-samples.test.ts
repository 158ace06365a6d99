// The validator is real: the Agenzia delle Entrate's own sample invoices pass it, and a broken copy fails it.
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { createXsdValidator, INVOICE_XSD } from '../../shared/sdi/fatturapa/xsd.js';

const SAMPLES = new URL('../fixtures/fatturapa/', import.meta.url);

describe('official FatturaPA samples', function () {
  this.timeout(20_000);
  const xsd = createXsdValidator();
  after(() => xsd.close());
  const names = readdirSync(SAMPLES).filter((f) => f.endsWith('.xml'));

  it('has the four official samples (FPA01, FPA03, FPR01, FPR02)', () => {
    expect(names.sort()).to.deep.equal(['IT01234567890_FPA01.xml', 'IT01234567890_FPA03.xml', 'IT01234567890_FPR01.xml', 'IT01234567890_FPR02.xml']);
  });

  for (const name of ['IT01234567890_FPA01.xml', 'IT01234567890_FPA03.xml', 'IT01234567890_FPR01.xml', 'IT01234567890_FPR02.xml']) {
    it(`validates ${name}`, async () => {
      const result = await xsd.validate(readFileSync(new URL(name, SAMPLES)), INVOICE_XSD, name);
      expect(result.errors).to.deep.equal([]);
      expect(result.valid).to.equal(true);
    });
  }

  it('rejects a sample without its mandatory Numero, naming the element', async () => {
    const broken = readFileSync(new URL('IT01234567890_FPR01.xml', SAMPLES), 'utf8').replace(/<Numero>[^<]*<\/Numero>/, '');
    const result = await xsd.validate(broken, INVOICE_XSD);
    expect(result.valid).to.equal(false);
    expect(result.errors[0]!.message).to.contain('Expected is ( Numero )');
  });

  it('rejects a character outside Latin-1 in a Latin text field', async () => {
    const broken = readFileSync(new URL('IT01234567890_FPR01.xml', SAMPLES), 'utf8').replace(/<Descrizione>[^<]*</, '<Descrizione>Servizio €<');
    const result = await xsd.validate(broken, INVOICE_XSD);
    expect(result.valid).to.equal(false);
    expect(result.errors.map((e) => e.message).join(' ')).to.contain('Descrizione');
  });
});
