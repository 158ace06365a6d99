// The development SMTP server's mailbox: mail to a customer is kept as a readable .eml, with no SdI receipt, while invoice mail still gets one.
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect } from 'chai';
import { createTransport } from 'nodemailer';
import PostalMime from 'postal-mime';
import { SdiSimulator, type SdiSimulatorOptions } from '../../scripts/sandboxes/sdi-simulator.js';
import { createCustomerMailer } from '../../shared/mail/mailer.js';
import { renderNotice } from '../../shared/mail/notices.js';
import { loadConfig } from '../../shared/platform/config.js';
import { createLogger } from '../../shared/platform/logger.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { captureLogs } from '../helpers/logs.js';
import { Receiver } from '../helpers/receiver.js';

const sample = readFileSync(new URL('../fixtures/fatturapa/IT01234567890_FPR01.xml', import.meta.url), 'utf8');
// The official sample with tax ids whose check digits hold, as in sdi-simulator.test.ts.
const validInvoice = sample.replaceAll('01234567890', '01234567897').replace('<CodiceFiscale>09876543210<', '<CodiceFiscale>09876543217<');

const notice = { orderId: 'ord_42', customerId: 'cus_ada', customerName: 'Ada Lovelace', amount: '12.50', currency: 'EUR', reason: 'insufficient balance' };

describe('SdI simulator mailbox', function () {
  this.timeout(20_000);
  const opened = closedAfterEach();
  let api: Receiver;
  let inboxDir: string;
  let mailboxDir: string;

  beforeEach(async () => {
    api = opened(await Receiver.start(() => ({ status: 202 })));
    const dir = await mkdtemp(join(tmpdir(), 'antaeus-mailbox-'));
    opened({ close: () => rm(dir, { recursive: true, force: true }) });
    inboxDir = join(dir, 'sdi-inbox');
    mailboxDir = join(dir, 'mailbox'); // not there yet: the simulator makes it
  });

  async function startSimulator(options: Partial<SdiSimulatorOptions> = {}) {
    const log = createLogger(loadConfig({ LOG_LEVEL: 'silent' }), 'test');
    return opened(await SdiSimulator.start({ inboxDir, apiUrl: `http://127.0.0.1:${api.port}`, apiKey: 'ak_test', delayMs: 10, log, ...options }));
  }

  async function mailInvoice(simulator: SdiSimulator, fileName: string) {
    const transport = createTransport({ url: simulator.smtpUrl });
    await transport.sendMail({ from: 'fatture@antaeus.example', to: 'sdi01@pec.fatturapa.it', subject: fileName, attachments: [{ filename: fileName, content: validInvoice }] });
    transport.close();
  }

  it('keeps a customer notice as a readable .eml in the mailbox, posts no receipt for it, and still answers invoices', async () => {
    const simulator = await startSimulator({ mailboxDir });
    const config = loadConfig({ LOG_LEVEL: 'silent', SMTP_URL: simulator.smtpUrl });
    const mailer = opened(createCustomerMailer(config, createLogger(config, 'test')));
    // The SMTP server answers only once the mail is kept: from here on it is in the mailbox.
    await mailer.send({ id: 'mail-1', to: 'ada@customer.example', ...renderNotice('order-failed', notice) });

    expect(simulator.mailbox).to.have.length(1);
    const [caught] = simulator.mailbox;
    expect(caught).to.deep.include({ to: ['ada@customer.example'], subject: 'Your order ord_42 could not be completed' });
    expect(await readdir(mailboxDir)).to.deep.equal([basename(caught!.file)]);
    expect(basename(caught!.file)).to.match(/^\d{4}-\d{2}-\d{2}T[\d-]+Z_ada@customer\.example\.eml$/);
    const email = await PostalMime.parse(await readFile(caught!.file));
    expect(email.from?.address).to.equal('noreply@antaeus.example');
    expect(email.text).to.contain('12.50 EUR').and.to.contain('insufficient balance');
    expect(simulator.files).to.deep.equal([]);

    // An invoice after it: exactly one receipt, the invoice's, and nothing of it in the mailbox.
    await mailInvoice(simulator, 'IT01234567897_00001.xml');
    const [receipt] = await api.waitForRequests(1);
    expect(receipt!.body).to.contain('IT01234567897_00001.xml');
    expect(api.requests).to.have.length(1);
    expect(simulator.files.map((f) => f.fileName)).to.deep.equal(['IT01234567897_00001.xml']);
    expect(await readdir(mailboxDir)).to.have.length(1);
    expect((await readdir(inboxDir)).some((f) => f.includes('customer.example'))).to.equal(false);
  });

  it('keeps every mail as a file of its own, two to the same customer at once too', async () => {
    const simulator = await startSimulator({ mailboxDir });
    const transport = createTransport({ url: simulator.smtpUrl, pool: true, maxConnections: 2 });
    await Promise.all([1, 2].map((n) => transport.sendMail({ from: 'noreply@antaeus.example', to: 'ada@customer.example', subject: `notice ${n}`, text: 'hello' })));
    transport.close();
    expect(simulator.mailbox.map((m) => m.subject).sort()).to.deep.equal(['notice 1', 'notice 2']);
    expect(await readdir(mailboxDir)).to.have.length(2);
  });

  it('treats mail to its configured SdI address as invoices, and without a mailbox folder logs and drops customer mail', async () => {
    const { log, lines } = captureLogs();
    const simulator = await startSimulator({ sdiAddress: 'SDI01@pec.fatturapa.it', log });
    const transport = createTransport({ url: simulator.smtpUrl });
    await transport.sendMail({ from: 'noreply@antaeus.example', to: 'ada@customer.example', subject: 'dropped', text: 'hello' });
    transport.close();
    expect(simulator.mailbox).to.deep.equal([]);
    expect(lines.some((l) => l.msg.includes('dropped') && l.subject === 'dropped')).to.equal(true);

    // The SdI address compares without case, as mail addresses do.
    await mailInvoice(simulator, 'IT01234567897_00002.xml');
    await api.waitForRequests(1);
    expect(simulator.files.map((f) => f.fileName)).to.deep.equal(['IT01234567897_00002.xml']);
  });
});
