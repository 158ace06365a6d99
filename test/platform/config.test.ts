// Configuration: defaults, parsing, and one clear line for bad values.
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../shared/platform/config.js';
import { QUEUE_NAMES } from '../../shared/platform/queue-names.js';
import { sellerOf, transmitterOf } from '../../shared/sdi/seller.js';

/** What production insists on being told. */
const PRODUCTION = {
  ADMIN_PASSWORD: 'a-long-password',
  SMTP_URL: 'smtps://invoices:secret@smtp.pec.example:465',
  PAYMENT_PROVIDER_URL: 'https://payments.example/v1',
  SELLER_NAME: 'Esempio S.p.A.',
  SELLER_VAT_NUMBER: 'IT09876543217',
  SELLER_STREET: 'Via Esempio 1',
  SELLER_POSTAL_CODE: '00100',
  SELLER_CITY: 'Roma',
};

describe('configuration', () => {
  it('has working defaults for every variable', () => {
    const config = loadConfig({});
    expect(config.port).to.equal(3000);
    expect(config.redisUrl).to.equal('redis://127.0.0.1:6379');
    expect(config.databaseUrl).to.equal('./data/antaeus.sqlite');
    expect(config.queuePrefix).to.equal('antaeus');
    expect(config.workerQueues).to.deep.equal([...QUEUE_NAMES]);
    expect(config.callbackAllowedHosts.entries).to.deep.equal(['localhost', '127.0.0.1']);
    expect(config.sdiAddress).to.equal('sdi01@pec.fatturapa.it');
    expect(config.billingCron).to.equal('0 0 1 * *');
    expect(config.billingTz).to.equal('UTC');
    expect(config.dunningDays).to.deep.equal([1, 3, 7]);
    expect(config.reportsEveryMinutes).to.equal(60);
  });

  it('parses lists, per-queue concurrency and numbers', () => {
    const config = loadConfig({
      PORT: '8080',
      WORKER_QUEUES: 'charge, callback',
      WORKER_CONCURRENCY: 'callback=50,charge=7',
      CALLBACK_RETRY_SCHEDULE: '1,2.5,10',
      CALLBACK_ALLOWED_HOSTS: 'hooks.internal,10.0.0.0/8',
      BILLING_TZ: 'Europe/Rome',
    });
    expect(config.port).to.equal(8080);
    expect(config.workerQueues).to.deep.equal(['charge', 'callback']);
    expect(config.workerConcurrency).to.deep.equal({ callback: 50, charge: 7 });
    expect(config.callbackRetrySchedule).to.deep.equal([1, 2.5, 10]);
    expect(config.callbackAllowedHosts.entries).to.deep.equal(['hooks.internal', '10.0.0.0/8']);
    expect(config.billingTz).to.equal('Europe/Rome');
  });

  it('allows no SSRF exceptions in production unless configured', () => {
    const config = loadConfig({ ...PRODUCTION, NODE_ENV: 'production' });
    expect(config.callbackAllowedHosts.entries).to.deep.equal([]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).port).to.equal(3000);
  });

  it('names every bad variable in one line', () => {
    expect(() => loadConfig({ PORT: 'eighty', WORKER_QUEUES: 'charge,nope', BILLING_TZ: 'Mars/Olympus', REDIS_URL: 'http://x', CALLBACK_ALLOWED_HOSTS: '10.0.0.0/99' }))
      .to.throw(ConfigError)
      .that.satisfies((err: Error) => {
        expect(err.message.split('\n')).to.have.length(1);
        for (const name of ['PORT', 'WORKER_QUEUES', 'BILLING_TZ', 'REDIS_URL', 'CALLBACK_ALLOWED_HOSTS']) expect(err.message).to.contain(name);
        return true;
      });
  });

  it('requires an operator password, an SMTP server and the real seller in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' }))
      .to.throw(ConfigError)
      .that.satisfies((err: Error) => {
        for (const name of Object.keys(PRODUCTION)) expect(err.message).to.contain(name);
        return true;
      });
    expect(() => loadConfig({ ...PRODUCTION, NODE_ENV: 'production' })).to.not.throw();
  });

  it('reads the seller and the SdI transmitter', () => {
    const config = loadConfig({ SELLER_VAT_NUMBER: 'IT09876543217', SELLER_PROVINCE: 'RM', JOB_ATTEMPTS: 'sdi-send=3' });
    expect(sellerOf(config).vat).to.deep.equal({ country: 'IT', code: '09876543217' });
    expect(transmitterOf(config)).to.deep.equal({ country: 'IT', code: '09876543217' });
    expect(sellerOf(config).address.province).to.equal('RM');
    expect(config.jobAttempts).to.deep.equal({ 'sdi-send': 3 });
    expect(transmitterOf(loadConfig({ SDI_TRANSMITTER_ID: 'IT11111111115' }))).to.deep.equal({ country: 'IT', code: '11111111115' });
    expect(() => loadConfig({ SELLER_REGIME_FISCALE: 'RF03', SELLER_NAME: 'Ωmega' })).to.throw(ConfigError, /SELLER_REGIME_FISCALE.*SELLER_NAME|SELLER_NAME.*SELLER_REGIME_FISCALE/);
  });
});
