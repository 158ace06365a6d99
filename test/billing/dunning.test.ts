// The dunning schedule: a wait after each declined attempt, then the end.
import { expect } from 'chai';
import { afterDecline } from '../../shared/billing/dunning.js';

describe('dunning schedule', () => {
  const now = new Date('2026-12-01T00:00:00.000Z');

  it('waits the n-th number of days after the n-th decline', () => {
    expect(afterDecline(0, [1, 3, 7], now)).to.deep.equal({ final: false, nextStep: 1, nextAt: new Date('2026-12-02T00:00:00.000Z') });
    expect(afterDecline(1, [1, 3, 7], now)).to.deep.equal({ final: false, nextStep: 2, nextAt: new Date('2026-12-04T00:00:00.000Z') });
    expect(afterDecline(2, [1, 3, 7], now)).to.deep.equal({ final: false, nextStep: 3, nextAt: new Date('2026-12-08T00:00:00.000Z') });
  });

  it('ends after the last wait: one attempt more than entries', () => {
    expect(afterDecline(3, [1, 3, 7], now)).to.deep.equal({ final: true, attempts: 4 });
    expect(afterDecline(0, [], now)).to.deep.equal({ final: true, attempts: 1 });
  });

  it('takes fractions of a day', () => {
    const next = afterDecline(0, [0.5], now);
    expect(next).to.deep.include({ final: false });
    expect(next.final === false && next.nextAt.toISOString()).to.equal('2026-12-01T12:00:00.000Z');
  });
});
