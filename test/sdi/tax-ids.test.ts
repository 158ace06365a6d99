// Italian tax id check digits, as the simulator checks the buyer and the seller the way the SdI's registry would.
import { expect } from 'chai';
import { DEMO_CUSTOMERS } from '../../scripts/demo-data.js';
import { isValidCodiceFiscale, isValidPartitaIva } from '../../shared/sdi/fatturapa/tax-ids.js';

describe('Italian tax ids', () => {
  it('checks the partita IVA check digit', () => {
    expect(isValidPartitaIva('01879020517')).to.equal(true);
    expect(isValidPartitaIva('01234567897')).to.equal(true);
    expect(isValidPartitaIva('01234567890')).to.equal(false);
    expect(isValidPartitaIva('0123456789')).to.equal(false);
  });

  it('checks a personal codice fiscale’s check letter, and a company’s check digit', () => {
    expect(isValidCodiceFiscale('RSSMRA85T10A562S')).to.equal(true);
    expect(isValidCodiceFiscale('RSSMRA85T10A562T')).to.equal(false);
    expect(isValidCodiceFiscale('80003490549')).to.equal(true);
    expect(isValidCodiceFiscale('rssmra85t10a562s')).to.equal(false);
  });

  it('holds for every Italian id in the development seed, so the demo invoices are delivered', () => {
    for (const c of DEMO_CUSTOMERS) {
      if (c.vatNumber?.startsWith('IT')) expect(isValidPartitaIva(c.vatNumber.slice(2)), c.id).to.equal(true);
      if (c.fiscalCode) expect(isValidCodiceFiscale(c.fiscalCode), c.id).to.equal(true);
    }
  });
});
