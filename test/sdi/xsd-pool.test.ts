// The XSD validation pool: a fixed number of threads, a bounded wait, a deadline that stops a runaway thread, errors a client and a job both understand.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { isUnavailable } from '../../shared/platform/errors/unavailable.js';
import { createXsdValidator, INVOICE_XSD, MESSAGES_XSD, XsdUnavailableError, type XsdPool, type XsdPoolOptions } from '../../shared/sdi/fatturapa/xsd.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { waitFor } from '../helpers/wait.js';

const sample = readFileSync(new URL('../fixtures/fatturapa/IT01234567890_FPR01.xml', import.meta.url), 'utf8');
const line = sample.match(/<DettaglioLinee>[\s\S]*?<\/DettaglioLinee>/)![0];
/** A valid invoice of 20,000 lines (6 MB): a few hundred milliseconds of work for one thread. */
const bigInvoice = sample.replace(line, line.repeat(20_000));

describe('XSD validation pool', function () {
  this.timeout(30_000);
  const opened = closedAfterEach();
  const pool = (options: XsdPoolOptions) => opened(createXsdValidator(options));

  const rejection = (work: Promise<unknown>) =>
    work.then(
      () => expect.fail('expected the validation to be refused'),
      (err: unknown) => err,
    );

  it('runs at most its size at once, however many are asked for', async () => {
    const xsd = pool({ size: 2, queue: 64 });
    const results = await Promise.all(Array.from({ length: 40 }, () => xsd.validate(sample, INVOICE_XSD)));
    expect(results.every((r) => r.valid)).to.equal(true);
    const stats = xsd.stats();
    expect(stats.completed).to.equal(40);
    expect(stats.peakRunning).to.be.within(1, 2);
    expect(stats.threads).to.be.at.most(2);
    expect(stats.inFlight).to.equal(0);
  });

  it('refuses at once what would wait beyond its queue, as unavailable and worth retrying', async () => {
    const xsd = pool({ size: 1, queue: 1 });
    const [running, waiting] = [xsd.validate(bigInvoice, INVOICE_XSD), xsd.validate(sample, INVOICE_XSD)];
    const refused = await rejection(xsd.validate(sample, INVOICE_XSD));
    expect(refused).to.be.instanceOf(XsdUnavailableError).and.instanceOf(RetryableError);
    expect(isUnavailable(refused)).to.equal(true);
    expect((await running).valid).to.equal(true);
    expect((await waiting).valid).to.equal(true);
    // The queue drained, there is room again.
    expect((await xsd.validate(sample, INVOICE_XSD)).valid).to.equal(true);
  });

  it('abandons a validation past its deadline, stopping its thread, and goes on with a fresh one', async () => {
    const xsd = pool({ size: 1, queue: 4, timeoutMs: 120 });
    // Once a thread is up a small document takes tens of milliseconds; starting the thread may take longer than the deadline.
    const warm = () => waitFor(async () => (await xsd.validate(sample, INVOICE_XSD).catch(() => undefined))?.valid, { what: 'a validation within the deadline' });
    await warm();
    const started = performance.now();
    const late = await rejection(xsd.validate(bigInvoice, INVOICE_XSD));
    expect(late).to.be.instanceOf(XsdUnavailableError);
    expect((late as Error).message).to.contain('within 120 ms');
    expect(performance.now() - started).to.be.below(1000);
    // The stopped thread is replaced: validations go on.
    await warm();
    expect(xsd.stats().threads).to.equal(1);
  });

  it('reports schema errors with their lines, and what is not XML as invalid', async () => {
    const xsd = pool({ size: 1 });
    const broken = await xsd.validate(sample.replace(/<Numero>[^<]*<\/Numero>/, ''), INVOICE_XSD, 'broken.xml');
    expect(broken.valid).to.equal(false);
    expect(broken.errors[0]).to.deep.include({ line: 55 });
    expect(broken.errors[0]!.message).to.contain('Expected is ( Numero )');
    const junk = await xsd.validate('<x>', MESSAGES_XSD, '-rf');
    expect(junk.valid).to.equal(false);
    expect(junk.errors[0]!.message).to.contain('Premature end of data');
  });

  it('lets the validations already running finish when it closes, then stops its threads', async () => {
    const xsd: XsdPool = createXsdValidator({ size: 1, queue: 4 });
    const [running, waiting] = [xsd.validate(bigInvoice, INVOICE_XSD), xsd.validate(sample, INVOICE_XSD)];
    const closed = xsd.close();
    expect((await running).valid).to.equal(true);
    expect((await waiting).valid).to.equal(true);
    await closed;
    expect(xsd.stats().threads).to.equal(0);
  });

    it('refuses every validation once closed', async () => {
    const xsd: XsdPool = createXsdValidator({ size: 1 });
    expect((await xsd.validate(sample, INVOICE_XSD)).valid).to.equal(true);
    await xsd.close();
    expect(await rejection(xsd.validate(sample, INVOICE_XSD))).to.be.instanceOf(XsdUnavailableError);
    await xsd.close();
  });
});
