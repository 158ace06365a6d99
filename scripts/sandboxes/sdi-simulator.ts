// The development SdI: an SMTP server that takes invoice mail, checks each file as the SdI would, keeps it, and posts the receipt back; other mail (to customers) it keeps in a mailbox folder.
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import { fileStamp } from '../../shared/platform/csv.js';
import { loadDotEnv } from '../../shared/platform/config.js';
import { createLogger, type Logger } from '../../shared/platform/logger.js';
import { find, parseXmlRoot, textAt, type XmlElement } from '../../shared/sdi/fatturapa/dom.js';
import { parseSdiFileName } from '../../shared/sdi/fatturapa/file-name.js';
import { buildSdiReceipt, type ReceiptType, type SdiError } from '../../shared/sdi/fatturapa/messages.js';
import { isValidCodiceFiscale, isValidPartitaIva } from '../../shared/sdi/fatturapa/tax-ids.js';
import { createXsdValidator, INVOICE_XSD, type XsdValidator } from '../../shared/sdi/fatturapa/xsd.js';

export interface SdiSimulatorOptions {
  /** Where every message, its file and its receipt are kept. */
  inboxDir: string;
  /** The API receipts are posted to, and an API key that may post for every customer (an operator's). */
  apiUrl: string;
  apiKey: string;
  /** Wait before posting each receipt, as the real SdI takes its time. */
  delayMs: number;
  /** SMTP port; 0 picks a free one. */
  port?: number;
  log: Logger;
  /** The XSD validator of the process it runs in (npm start: the one the API and workers use). @defaultValue a pool of its own, closed with it */
  xsd?: XsdValidator;
  /**
   * Where mail not addressed to the SdI (the notices to customers) is kept, one `<stamp>_<recipient>.eml` per message;
   * created at start. @defaultValue none: such mail is accepted, logged and dropped
   */
  mailboxDir?: string;
  /** The SdI's address: a message whose envelope names it is an invoice; any other is a customer's mail. @defaultValue `sdi01@pec.fatturapa.it` */
  sdiAddress?: string;
}

/** A mail to someone other than the SdI, as the simulator kept it. */
export interface CaughtMail {
  /** The envelope's recipients. */
  to: string[];
  subject: string;
  /** The `.eml` file it was written to. */
  file: string;
}

const DEFAULT_SDI_ADDRESS = 'sdi01@pec.fatturapa.it';

export interface SimulatedFile {
  fileName: string;
  receipt: ReceiptType;
  errors: SdiError[];
  /** What the API answered to the receipt, once posted. */
  posted?: number | 'failed';
}

// Descriptions as the SdI words them.
const ERR = {
  badName: (name: string) => ({ code: '00001', description: `Nome file non valido: ${name}` }),
  duplicate: (name: string) => ({ code: '00002', description: `Nome file duplicato: ${name}` }),
  format: (message: string) => ({ code: '00200', description: `File non conforme al formato: ${message}` }),
  seller: (code: string) => ({ code: '00301', description: `1.2.1.1.2 <IdCodice> non valido: ${code}` }),
  buyerVat: (code: string) => ({ code: '00305', description: `1.4.1.1.2 <IdCodice> non valido: ${code}` }),
  buyerFiscalCode: (code: string) => ({ code: '00306', description: `1.4.1.2 <CodiceFiscale> non valido: ${code}` }),
};

/** The SdI's content checks after the schema: tax ids must exist (here: their check digits must hold). */
function contentErrors(root: XmlElement, fileTransmitter: { country: string; code: string }): SdiError[] {
  const errors: SdiError[] = [];
  const header = find(root, 'FatturaElettronicaHeader');
  const transmitter = find(header, 'DatiTrasmissione', 'IdTrasmittente');
  if (textAt(transmitter, 'IdPaese') !== fileTransmitter.country || textAt(transmitter, 'IdCodice') !== fileTransmitter.code) {
    errors.push({ code: '00001', description: 'Nome file non coerente con IdTrasmittente' });
  }
  const seller = find(header, 'CedentePrestatore', 'DatiAnagrafici', 'IdFiscaleIVA');
  const sellerCode = textAt(seller, 'IdCodice') ?? '';
  if (textAt(seller, 'IdPaese') === 'IT' && !isValidPartitaIva(sellerCode)) errors.push(ERR.seller(sellerCode));
  const buyer = find(header, 'CessionarioCommittente', 'DatiAnagrafici');
  const buyerVat = find(buyer, 'IdFiscaleIVA');
  const buyerCode = textAt(buyerVat, 'IdCodice') ?? '';
  if (buyerVat && textAt(buyerVat, 'IdPaese') === 'IT' && !isValidPartitaIva(buyerCode)) errors.push(ERR.buyerVat(buyerCode));
  const buyerFiscalCode = textAt(buyer, 'CodiceFiscale');
  if (buyerFiscalCode && !isValidCodiceFiscale(buyerFiscalCode)) errors.push(ERR.buyerFiscalCode(buyerFiscalCode));
  return errors;
}

/** Writes `content` to `<base><ext>` in `dir`, or to `<base>_2<ext>`, … when two mails share a millisecond and a recipient. */
async function writeNewFile(dir: string, base: string, ext: string, content: Buffer): Promise<string> {
  for (let n = 1; ; n += 1) {
    const file = join(dir, `${base}${n === 1 ? '' : `_${n}`}${ext}`);
    try {
      await writeFile(file, content, { flag: 'wx' });
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

export class SdiSimulator {
  readonly files: SimulatedFile[] = [];
  /** Mail to customers kept in the mailbox folder, oldest first. */
  readonly mailbox: CaughtMail[] = [];
  private readonly seen = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private sequence = Math.floor(Date.now() / 1000) % 1_000_000;
  private closed = false;

  private constructor(
    private readonly server: SMTPServer,
    private readonly options: SdiSimulatorOptions,
    private readonly xsd: XsdValidator,
    private readonly ownsXsd: boolean,
    readonly port: number,
  ) {}

  /** The SMTP_URL that reaches this simulator. */
  get smtpUrl(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  static async start(options: SdiSimulatorOptions): Promise<SdiSimulator> {
    await mkdir(options.inboxDir, { recursive: true });
    if (options.mailboxDir) await mkdir(options.mailboxDir, { recursive: true });
    let simulator: SdiSimulator | undefined;
    const server = new SMTPServer({
      authOptional: true,
      allowInsecureAuth: true, // any user and password: a local stand-in for a PEC provider
      onAuth: (auth, _session, callback) => callback(null, { user: auth.username ?? 'sdi' }),
      disabledCommands: ['STARTTLS'],
      size: 10 * 1024 * 1024,
      closeTimeout: 500,
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', callback);
        stream.on('end', () => {
          const raw = Buffer.concat(chunks);
          const recipients = session.envelope.rcptTo.map((r) => r.address);
          simulator!.receive(raw, recipients).then(() => callback(), (err: Error) => callback(err));
        });
      },
    });
    server.on('error', (err) => options.log.warn({ err }, 'SdI simulator SMTP error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const port = (server.server.address() as AddressInfo).port;
    simulator = new SdiSimulator(server, options, options.xsd ?? createXsdValidator(), !options.xsd, port);
    options.log.info({ smtpUrl: simulator.smtpUrl, inbox: options.inboxDir, mailbox: options.mailboxDir }, 'SdI simulator listening');
    return simulator;
  }

  /** Keeps the message and accepts it; the checks and the receipt follow, as at the real SdI. Mail for anyone else goes to the mailbox. */
  private async receive(raw: Buffer, recipients: string[]): Promise<void> {
    // The envelope, not the To header, says where a message goes, as at a real mail server.
    const sdiAddress = (this.options.sdiAddress ?? DEFAULT_SDI_ADDRESS).toLowerCase();
    if (!recipients.some((r) => r.toLowerCase() === sdiAddress)) return this.keepCustomerMail(raw, recipients);
    const stamp = fileStamp(new Date());
    const email = await PostalMime.parse(raw);
    const attachments = email.attachments.filter((a) => a.filename);
    await writeFile(join(this.options.inboxDir, `${stamp}_${attachments[0]?.filename ?? 'no-attachment'}.eml`), raw);
    if (attachments.length === 0) {
      this.options.log.warn({ subject: email.subject }, 'SdI simulator: a message without a file, nothing to answer');
      return;
    }
    for (const attachment of attachments) {
      const fileName = attachment.filename!;
      const content = typeof attachment.content === 'string' ? Buffer.from(attachment.content) : Buffer.from(attachment.content as ArrayBuffer);
      await writeFile(join(this.options.inboxDir, `${stamp}_${fileName.replace(/[^A-Za-z0-9_.-]/g, '_')}`), content);
      void this.check(fileName, content, stamp);
    }
  }

  /** Writes a customer's mail where a developer can open it (any mail client reads `.eml`); no receipt, it is no invoice. */
  private async keepCustomerMail(raw: Buffer, recipients: string[]): Promise<void> {
    const { subject = '' } = await PostalMime.parse(raw);
    const dir = this.options.mailboxDir;
    if (!dir) {
      this.options.log.info({ to: recipients, subject }, 'SdI simulator: mail not for the SdI dropped (no mailbox folder)');
      return;
    }
    // Safe in a file name on any system, and short enough for one (an address may be 254 characters).
    const recipient = (recipients[0] ?? 'nobody').replace(/[^A-Za-z0-9_.@+-]/g, '_').slice(0, 150);
    const base = `${fileStamp(new Date())}_${recipient}`;
    const file = await writeNewFile(dir, base, '.eml', raw);
    this.mailbox.push({ to: recipients, subject, file });
    this.options.log.info({ to: recipients, subject, file }, 'SdI simulator kept a mail to a customer');
  }

  private async check(fileName: string, content: Buffer, stamp: string): Promise<void> {
    const receivedAt = new Date();
    const errors: SdiError[] = [];
    let root: XmlElement | undefined;
    const parts = parseSdiFileName(fileName);
    if (!parts) errors.push(ERR.badName(fileName));
    else if (this.seen.has(fileName)) errors.push(ERR.duplicate(fileName));
    else {
      this.seen.add(fileName);
      const validation = await this.xsd.validate(content, INVOICE_XSD, fileName);
      if (!validation.valid) errors.push(...validation.errors.map((e) => ERR.format(e.line ? `line ${e.line}: ${e.message}` : e.message)));
      else root = parseXmlRoot(content.toString('utf8'));
      if (root) errors.push(...contentErrors(root, parts));
    }
    const type: ReceiptType = errors.length ? 'NotificaScarto' : 'RicevutaConsegna';
    this.sequence += 1;
    const buyer = find(root, 'FatturaElettronicaHeader', 'CessionarioCommittente', 'DatiAnagrafici', 'Anagrafica');
    const receipt = buildSdiReceipt({
      type,
      sdiIdentifier: String(this.sequence),
      fileName,
      messageId: String(this.sequence),
      receivedAt,
      errors,
      recipient: {
        code: textAt(root, 'FatturaElettronicaHeader', 'DatiTrasmissione', 'CodiceDestinatario') ?? '0000000',
        description: textAt(buyer, 'Denominazione') ?? [textAt(buyer, 'Nome'), textAt(buyer, 'Cognome')].join(' '),
      },
    });
    const kind = type === 'RicevutaConsegna' ? 'RC' : 'NS';
    const base = fileName.replace(/\.xml$/i, '');
    await writeFile(join(this.options.inboxDir, `${stamp}_${base}_${kind}_001.xml`), receipt);
    const record: SimulatedFile = { fileName, receipt: type, errors };
    this.files.push(record);
    this.options.log.info({ fileName, receipt: type, errors: errors.length }, 'SdI simulator checked a file');
    this.later(() => this.post(record, receipt, 1), this.options.delayMs);
  }

  /** Posts the receipt; retries a few times while the API is unreachable or failing, as a PEC channel would. */
  private async post(record: SimulatedFile, receipt: string, attempt: number): Promise<void> {
    if (this.closed) return;
    try {
      const response = await fetch(`${this.options.apiUrl}/v1/sdi/notifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/xml', authorization: `Bearer ${this.options.apiKey}` },
        body: receipt,
      });
      if (response.status >= 500 && attempt < 5) throw new Error(`API answered ${response.status}`);
      record.posted = response.status;
      if (response.status >= 400) this.options.log.warn({ fileName: record.fileName, status: response.status, body: await response.text() }, 'API refused the receipt');
    } catch (err) {
      if (attempt >= 5) {
        record.posted = 'failed';
        this.options.log.error({ err, fileName: record.fileName }, 'SdI simulator could not post the receipt');
        return;
      }
      this.later(() => this.post(record, receipt, attempt + 1), 500 * 2 ** attempt);
    }
  }

  private later(run: () => Promise<void>, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void run();
    }, ms);
    this.timers.add(timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.ownsXsd) await this.xsd.close();
  }
}

// Run directly (`npm run sandbox:sdi`): the simulator alone on SMTP_PORT (default 2525), for a `web` and a `worker`
// run separately with SMTP_URL pointing at it. It posts receipts to SDI_API_URL with SDI_API_KEY (or DEMO_API_KEY),
// an operator's key: `npm run seed` makes the demo operator with DEMO_API_KEY. Mail not to SDI_ADDRESS (the customer
// notices) is kept in MAILBOX_DIR (default ./data/mailbox). `.env` is read as every process does.
// No top-level await: mocha loads test files that import this module through require, which refuses it.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  loadDotEnv();
  const env = process.env;
  const apiUrl = env.SDI_API_URL || 'http://127.0.0.1:3000';
  const apiKey = env.SDI_API_KEY || env.DEMO_API_KEY;
  const port = Number(env.SMTP_PORT || 2525);
  const delayMs = Number(env.SDI_SIMULATOR_DELAY_MS || 1000);
  const level = env.LOG_LEVEL || 'info';
  const bad = [
    !apiKey && 'SDI_API_KEY (or DEMO_API_KEY) is not set: the simulator posts receipts with an operator\'s API key (npm run seed makes one with DEMO_API_KEY)',
    !/^https?:\/\//.test(apiUrl) && `SDI_API_URL=${JSON.stringify(apiUrl)}: expected the API's http(s) URL`,
    !(Number.isInteger(port) && port >= 0 && port <= 65535) && `SMTP_PORT=${JSON.stringify(env.SMTP_PORT)}: expected a port number`,
    !(Number.isInteger(delayMs) && delayMs >= 0) && `SDI_SIMULATOR_DELAY_MS=${JSON.stringify(env.SDI_SIMULATOR_DELAY_MS)}: expected a whole number`,
    !!env.SDI_ADDRESS && !/^[^@\s]+@[^@\s]+$/.test(env.SDI_ADDRESS) && `SDI_ADDRESS=${JSON.stringify(env.SDI_ADDRESS)}: expected an email address`,
    !['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level) && `LOG_LEVEL=${JSON.stringify(level)}: expected info, warn, …`,
  ].filter((problem): problem is string => typeof problem === 'string');
  if (bad.length) {
    console.error(`SdI simulator: ${bad.join('; ')}`);
    process.exit(1);
  }
  const inboxDir = resolve(env.SDI_INBOX_DIR || './data/sdi-inbox');
  const mailboxDir = resolve(env.MAILBOX_DIR || './data/mailbox');
  const log = createLogger({ logLevel: level as Parameters<typeof createLogger>[0]['logLevel'] }, 'sdi-simulator');
  SdiSimulator.start({ inboxDir, mailboxDir, sdiAddress: env.SDI_ADDRESS || undefined, apiUrl, apiKey: apiKey!, delayMs, port, log }).then(
    (simulator) => {
      console.log(`SdI simulator at ${simulator.smtpUrl} (SMTP_URL for the worker), posting receipts to ${apiUrl}, SdI mail kept in ${inboxDir}`);
      console.log(`Mail to customers kept in ${mailboxDir} (.eml files: open them with any mail client)`);
      // npm passes the signal on and a terminal's Ctrl-C sends it too: stop once, whichever comes, however often.
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        void simulator.close().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: Error) => {
      console.error(`SdI simulator cannot listen on SMTP port ${port}: ${err.message}. Set SMTP_PORT to another port.`);
      process.exit(1);
    },
  );
}
