// The development SdI: checks each mailed file as the SdI would, keeps it, and posts a schema-valid receipt back.
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createTransport } from 'nodemailer';
import { SdiSimulator } from '../../scripts/sandboxes/sdi-simulator.js';
import { loadConfig } from '../../shared/platform/config.js';
import { createLogger } from '../../shared/platform/logger.js';
import { parseSdiReceipt } from '../../shared/sdi/fatturapa/messages.js';
import { createXsdValidator, MESSAGES_XSD } from '../../shared/sdi/fatturapa/xsd.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { Receiver } from '../helpers/receiver.js';

const sample = readFileSync(new URL('../fixtures/fatturapa/IT01234567890_FPR01.xml', import.meta.url), 'utf8');
// The official sample with tax ids whose check digits hold (the sample's are made up), so only what a test breaks is wrong.
const validInvoice = sample.replaceAll('01234567890', '01234567897').replace('<CodiceFiscale>09876543210<', '<CodiceFiscale>09876543217<');

describe('SdI simulator', function () {
  this.timeout(20_000);
  const opened = closedAfterEach();
  let api: Receiver;
  let simulator: SdiSimulator;
  let inboxDir: string;
  beforeEach(async () => {
    api = opened(await Receiver.start(() => ({ status: 202 })));
    const dir = await mkdtemp(join(tmpdir(), 'antaeus-inbox-'));
    opened({ close: () => rm(dir, { recursive: true, force: true }) });
    inboxDir = dir;
    const log = createLogger(loadConfig({ LOG_LEVEL: 'silent' }), 'test');
    simulator = opened(await SdiSimulator.start({ inboxDir, apiUrl: `http://127.0.0.1:${api.port}`, apiKey: 'ak_test', delayMs: 10, log }));
  });

  async function mail(fileName: string, xml: string) {
    const transport = createTransport({ url: simulator.smtpUrl });
    await transport.sendMail({ from: 'fatture@antaeus.example', to: 'sdi01@pec.fatturapa.it', subject: fileName, attachments: [{ filename: fileName, content: xml }] });
    transport.close();
  }

  async function receipts(count: number) {
    const requests = await api.waitForRequests(count);
    const xsd = opened(createXsdValidator());
    for (const r of requests) {
      expect(r.headers['content-type']).to.equal('application/xml');
      expect(r.headers.authorization).to.equal('Bearer ak_test');
      expect((await xsd.validate(r.body, MESSAGES_XSD)).errors).to.deep.equal([]);
    }
    return requests.map((r) => parseSdiReceipt(r.body));
  }

  it('delivers a valid file and keeps the message, the file and the receipt', async () => {
    await mail('IT01234567897_00001.xml', validInvoice);
    const [receipt] = await receipts(1);
    expect(receipt).to.include({ messageType: 'RicevutaConsegna', fileName: 'IT01234567897_00001.xml' });
    const kept = await readdir(inboxDir);
    expect(kept.some((f) => f.endsWith('_IT01234567897_00001.xml.eml'))).to.equal(true);
    expect(kept.some((f) => f.endsWith('_IT01234567897_00001.xml'))).to.equal(true);
    expect(kept.some((f) => f.endsWith('_IT01234567897_00001_RC_001.xml'))).to.equal(true);
  });

  it('discards a file that does not validate, listing the schema errors', async () => {
    await mail('IT01234567897_00002.xml', validInvoice.replace(/<Numero>[^<]*<\/Numero>/, ''));
    const [receipt] = await receipts(1);
    expect(receipt!.messageType).to.equal('NotificaScarto');
    expect(receipt!.errors[0]!.code).to.equal('00200');
    expect(receipt!.errors[0]!.description).to.contain('Numero');
  });

  it('discards a badly named file, a duplicate name, and an invalid tax id', async () => {
    await mail('fattura.xml', validInvoice);
    await mail('IT01234567897_00003.xml', validInvoice);
    await mail('IT01234567897_00003.xml', validInvoice);
    await mail('IT01234567897_00004.xml', validInvoice.replace('<CodiceFiscale>09876543217<', '<CodiceFiscale>09876543211<'));
    const all = await receipts(4);
    const byName = (name: string) => all.filter((r) => r.fileName === name);
    expect(byName('fattura.xml')[0]!.errors[0]!.code).to.equal('00001');
    expect(byName('IT01234567897_00003.xml').map((r) => r.messageType).sort()).to.deep.equal(['NotificaScarto', 'RicevutaConsegna']);
    expect(byName('IT01234567897_00003.xml').find((r) => r.messageType === 'NotificaScarto')!.errors[0]!.code).to.equal('00002');
    expect(byName('IT01234567897_00004.xml')[0]!.errors.map((e) => e.code)).to.deep.equal(['00306']);
  });
});
