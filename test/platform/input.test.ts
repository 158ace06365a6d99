// The input every store and FatturaPA accept: real days from 1900 to 9999, instants normalised to UTC, text without control characters, bounded ids.
import { expect } from 'chai';
import { z } from 'zod';
import { hasNoControlChars, isCalendarDate, isoDate, isoInstant, isoInstantEnd, resourceId, safeText, whenParsed } from '../../shared/platform/input.js';
import { decodeCursor, encodeCursor } from '../../shared/platform/pagination.js';

const messages = (result: { success: boolean; error?: z.ZodError }) => result.error?.issues.map((i) => i.message) ?? [];

describe('input every store accepts', () => {
  describe('isoDate', () => {
    it('takes real calendar days, 29 February only in leap years', () => {
      for (const day of ['2026-11-01', '2024-02-29', '2000-02-29', '1900-01-01', '9999-12-31']) expect(isoDate.safeParse(day).success, day).to.equal(true);
      for (const day of ['2026-02-29', '1900-02-29', '2026-02-30', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-00']) {
        expect(messages(isoDate.safeParse(day)), day).to.deep.equal(['not a calendar date']);
      }
    });

    it('refuses years before 1900 (0000 included) with one message', () => {
      for (const day of ['0000-01-01', '1899-12-31', '0001-01-01']) expect(messages(isoDate.safeParse(day)), day).to.deep.equal(['the year must be from 1900 to 9999']);
    });

    it('refuses anything that is not YYYY-MM-DD, and what is not a string', () => {
      for (const day of ['2026-1-01', '20261101', '2026-11-01T00:00:00Z', '+10000-01-01', ' 2026-11-01', '2026-11-01\u0000', '']) {
        expect(messages(isoDate.safeParse(day)), day).to.deep.equal(['expected a date as YYYY-MM-DD']);
      }
      for (const value of [20261101, null, ['2026-11-01'], { year: 2026 }]) expect(isoDate.safeParse(value).success).to.equal(false);
    });

    it('isCalendarDate knows the leap years', () => {
      expect(['2024-02-29', '2000-02-29', '2023-02-29', '2100-02-29'].map(isCalendarDate)).to.deep.equal([true, true, false, false]);
    });
  });

  describe('isoInstant', () => {
    it('normalises an instant with its offset to UTC, and a date to its first (isoInstant) or last (isoInstantEnd) millisecond', () => {
      expect(isoInstant.parse('2026-11-01T09:30:00+01:00')).to.equal('2026-11-01T08:30:00.000Z');
      expect(isoInstant.parse('2026-11-01T09:30Z')).to.equal('2026-11-01T09:30:00.000Z');
      expect(isoInstant.parse('2026-11-01T09:30:00.123456Z')).to.equal('2026-11-01T09:30:00.123Z');
      expect(isoInstant.parse('2026-11-01')).to.equal('2026-11-01T00:00:00.000Z');
      expect(isoInstantEnd.parse('2026-11-01')).to.equal('2026-11-01T23:59:59.999Z');
      expect(isoInstantEnd.parse('2026-11-01T09:30:00Z')).to.equal('2026-11-01T09:30:00.000Z');
    });

    it('refuses what falls outside 1900..9999 once in UTC', () => {
      for (const s of ['9999-12-31T23:59:59-14:00', '1900-01-01T00:30:00+01:00', '0000-01-01T00:00:00Z', '0000-01-01']) {
        expect(isoInstant.safeParse(s).success, s).to.equal(false);
      }
      expect(isoInstant.parse('9999-12-31T23:59:59+14:00')).to.equal('9999-12-31T09:59:59.000Z');
      expect(isoInstantEnd.parse('9999-12-31')).to.equal('9999-12-31T23:59:59.999Z');
    });

    it('refuses days that do not exist, times without an offset, and what Date.parse would guess at', () => {
      for (const s of [
        '2026-02-30T00:00:00Z', // Date.parse rolls it over to 2 March
        '2026-11-01T09:30:00', // no offset: whose 09:30?
        '2026-11-01T24:00:00Z',
        '2026-11-01T09:30:00+25:00',
        '2026-11-01 09:30:00Z',
        'Sun, 01 Nov 2026 09:30:00 GMT',
        '1762000000000',
        'NaN',
        '2026-11-01T09:30:00Z\u0000',
        'x'.repeat(100),
      ]) {
        expect(isoInstant.safeParse(s).success, s).to.equal(false);
      }
    });
  });

  describe('safeText', () => {
    it('refuses NUL and the other C0 control characters, but keeps tab, line feed and carriage return', () => {
      expect(safeText(100).safeParse('Riga 1\tcol\r\nRiga 2 – àèì €').success).to.equal(true);
      for (const c of ['\u0000', '\u0001', '\u0008', '\u000b', '\u000c', '\u001b', '\u001f']) {
        expect(safeText(100).safeParse(`a${c}b`).success, JSON.stringify(c)).to.equal(false);
        expect(hasNoControlChars(c)).to.equal(false);
      }
    });

    it('bounds the length with one message, not two', () => {
      expect(messages(safeText(5).safeParse('\u0000'.repeat(6)))).to.have.length(1);
    });
  });

  describe('resourceId', () => {
    it('takes 1 to max printable ASCII characters without spaces', () => {
      const id = resourceId(36);
      for (const ok of ['6a1f4a3e-0000-5000-8000-000000000000', 'cust-1', 'report-x', 'a']) expect(id.safeParse(ok).success, ok).to.equal(true);
      for (const bad of ['', 'a'.repeat(37), 'a b', 'a\u0000', 'città', '\u00a0', 'a\nb']) expect(id.safeParse(bad).success, JSON.stringify(bad)).to.equal(false);
    });
  });

  describe('whenParsed', () => {
    it('keeps a refinement from seeing values that failed: zod 4 would run it after a failed regex', () => {
      const seen: unknown[] = [];
      const schema = z
        .object({ price: z.string().regex(/^\d+$/), note: z.string().optional() })
        .refine((v) => seen.push(v.price) > 0, { when: whenParsed('price') });
      expect(schema.safeParse({ price: '10,00' }).success).to.equal(false);
      expect(schema.safeParse({ price: '10' }).success).to.equal(true);
      expect(seen).to.deep.equal(['10']);
    });

    it('still runs the refinement when only an unrelated field or an unknown key failed', () => {
      let runs = 0;
      const schema = z.strictObject({ price: z.string(), note: z.string().max(1) }).refine(() => ++runs > 0, { when: whenParsed('price') });
      expect(schema.safeParse({ price: '1', note: 'too long', extra: 1 }).success).to.equal(false);
      expect(runs).to.equal(1);
      expect(schema.safeParse([]).success).to.equal(false); // not an object at all: never run
      expect(runs).to.equal(1);
    });
  });

  describe('cursors', () => {
    it('decodes what encodeCursor makes', () => {
      const key = { createdAt: '2026-11-01T08:30:00.000Z', id: '6a1f4a3e-0000-5000-8000-000000000000' };
      expect(decodeCursor(encodeCursor(key))).to.deep.equal(key);
    });

    it('refuses forged ones: bad instants, years out of range, ids with NUL or too long, wrong shapes', () => {
      const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const forged = [
        forge(['not a date', 'x']),
        forge(['2026-11-01', 'x']),
        forge(['2026-11-01T08:30:00Z', 'x']), // not the exact form encodeCursor writes
        forge(['+010000-01-01T00:00:00.000Z', 'x']),
        forge(['0000-01-01T00:00:00.000Z', 'x']),
        forge(['2026-02-30T00:00:00.000Z', 'x']),
        forge(['2026-11-01T08:30:00.000Z', 'a\u0000b']),
        forge(['2026-11-01T08:30:00.000Z', 'x'.repeat(65)]),
        forge(['2026-11-01T08:30:00.000Z', '']),
        forge(['2026-11-01T08:30:00.000Z', 42]),
        forge(['2026-11-01T08:30:00.000Z']),
        forge({ createdAt: '2026-11-01T08:30:00.000Z', id: 'x' }),
        forge(null),
        'nonsense',
        '',
        'A'.repeat(10_000),
      ];
      for (const cursor of forged) expect(decodeCursor(cursor), cursor.slice(0, 60)).to.equal(undefined);
    });
  });
});
