// Spreadsheet formula injection: a cell that would run as a formula is written as text.
import { expect } from 'chai';
import { neutraliseCell } from '../../shared/platform/csv.js';

describe('CSV cell neutralisation', () => {
  it('prefixes an apostrophe to cells starting with = + - @ tab or carriage return', () => {
    for (const cell of ['=1+2', '+39 06 1234', '-2+3', '@SUM(A1:A9)', '\t=cmd', '\r=cmd', '=HYPERLINK("http://x")']) {
      expect(neutraliseCell(cell)).to.equal(`'${cell}`);
    }
  });

  it('leaves every other cell alone', () => {
    for (const cell of ['INTERNAL_INVOICE_SENT', 'FT-2026/1', 'a=b', ' =x', '', 'user:42']) expect(neutraliseCell(cell)).to.equal(cell);
  });
});
