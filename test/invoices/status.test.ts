// The invoice status machine: which moves are allowed.
import { expect } from 'chai';
import { canTransition, INVOICE_STATUSES, TRANSITIONS } from '../../shared/invoices/status.js';

describe('invoice status machine', () => {
  it('takes an internal invoice from NEW through sending to the SdI verdict', () => {
    expect(canTransition('INTERNAL_INVOICE_NEW', 'INTERNAL_INVOICE_TOBE_SENT')).to.equal(true);
    expect(canTransition('INTERNAL_INVOICE_TOBE_SENT', 'INTERNAL_INVOICE_SENT')).to.equal(true);
    expect(canTransition('INTERNAL_INVOICE_TOBE_SENT', 'INTERNAL_INVOICE_NOT_SENT')).to.equal(true);
    expect(canTransition('INTERNAL_INVOICE_NOT_SENT', 'INTERNAL_INVOICE_SENT')).to.equal(true);
    for (const verdict of ['INTERNAL_INVOICE_DELIVERED', 'INTERNAL_INVOICE_DISCARDED', 'INTERNAL_INVOICE_NOT_DELIVERED'] as const) {
      expect(canTransition('INTERNAL_INVOICE_SENT', verdict)).to.equal(true);
    }
  });

  it('ends unknown customers and external invoices at once', () => {
    expect(canTransition('INTERNAL_INVOICE_NEW', 'INTERNAL_INVOICE_INVALID')).to.equal(true);
    expect(canTransition('INTERNAL_INVOICE_NEW', 'EXTERNAL_INVOICE')).to.equal(true);
  });

  it('never skips a step or leaves a final status', () => {
    expect(canTransition('INTERNAL_INVOICE_NEW', 'INTERNAL_INVOICE_SENT')).to.equal(false);
    expect(canTransition('INTERNAL_INVOICE_TOBE_SENT', 'INTERNAL_INVOICE_DELIVERED')).to.equal(false);
    for (const final of ['INTERNAL_INVOICE_DELIVERED', 'INTERNAL_INVOICE_DISCARDED', 'INTERNAL_INVOICE_NOT_DELIVERED', 'INTERNAL_INVOICE_INVALID', 'EXTERNAL_INVOICE'] as const) {
      expect(TRANSITIONS[final]).to.deep.equal([]);
    }
  });

  it('has no move from a status to itself, and nothing leads back to NEW', () => {
    expect(INVOICE_STATUSES.every((s) => !canTransition(s, s))).to.equal(true);
    expect(INVOICE_STATUSES.some((s) => canTransition(s, 'INTERNAL_INVOICE_NEW'))).to.equal(false);
  });
});
