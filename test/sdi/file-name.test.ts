// SdI file names: five-character progressives that never repeat, and the naming rule the SdI checks (error 00001).
import { expect } from 'chai';
import { encodeProgressive, MAX_PROGRESSIVE, parseSdiFileName, sdiFileName } from '../../shared/sdi/fatturapa/file-name.js';

describe('SdI file names', () => {
  it('encodes progressives as five characters of [0-9A-Z]', () => {
    expect(encodeProgressive(1)).to.equal('00001');
    expect(encodeProgressive(35)).to.equal('0000Z');
    expect(encodeProgressive(36)).to.equal('00010');
    expect(encodeProgressive(MAX_PROGRESSIVE)).to.equal('ZZZZZ');
    for (const n of [1, 999, 46_655, 1_000_000]) expect(encodeProgressive(n)).to.match(/^[0-9A-Z]{5}$/);
  });

  it('never gives two numbers the same progressive', () => {
    const seen = new Set<string>();
    for (let n = 1; n <= 50_000; n += 1) seen.add(encodeProgressive(n));
    expect(seen.size).to.equal(50_000);
  });

  it('refuses numbers it cannot encode rather than wrapping around', () => {
    for (const n of [0, -1, 1.5, MAX_PROGRESSIVE + 1]) expect(() => encodeProgressive(n)).to.throw(RangeError);
  });

  it('names a file IT<IdCodice>_<progressive>.xml and reads such names back', () => {
    const name = sdiFileName({ country: 'IT', code: '01234567897' }, '0000A');
    expect(name).to.equal('IT01234567897_0000A.xml');
    expect(parseSdiFileName(name)).to.deep.equal({ country: 'IT', code: '01234567897', progressive: '0000A' });
    for (const bad of ['01234567897_0000A.xml', 'IT01234567897_000001.xml', 'IT01234567897-0000A.xml', 'IT01234567897_0000A.txt', 'IT_0000A.xml']) {
      expect(parseSdiFileName(bad), bad).to.equal(undefined);
    }
  });
});
