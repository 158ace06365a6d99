// The SSRF guard: only public unicast addresses, after DNS, unless allowlisted.
import type { LookupAddress } from 'node:dns';
import { expect } from 'chai';
import { loadConfig } from '../../shared/platform/config.js';
import {
  assertSafeUrl,
  guardedLookup,
  isPublicAddress,
  isRefusal,
  LookupTimeoutError,
  parseAllowlist,
  systemLookupAll,
  UnsafeUrlError,
  type LookupAll,
} from '../../shared/platform/ssrf.js';

const none = parseAllowlist([]);
const resolvesTo = (...addresses: string[]): LookupAll => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

async function refused(url: string, lookup: LookupAll = resolvesTo('93.184.216.34'), allow = none): Promise<string> {
  try {
    await assertSafeUrl(url, allow, lookup);
  } catch (err) {
    expect(err).to.be.instanceOf(UnsafeUrlError);
    return (err as Error).message;
  }
  throw new Error(`${url} was accepted`);
}

describe('SSRF guard', () => {
  it('accepts public addresses only', () => {
    for (const ok of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) expect(isPublicAddress(ok), ok).to.equal(true);
    const blocked = [
      '127.0.0.1', '127.8.9.10', '::1', // loopback
      '10.1.2.3', '172.16.0.1', '192.168.1.1', // private
      '169.254.169.254', 'fe80::1', // link-local, cloud metadata
      '100.64.0.1', // CGNAT
      'fd00::1', // unique local
      '0.0.0.0', '::', '224.0.0.1', '255.255.255.255',
      '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', // IPv4-mapped
      '64:ff9b::7f00:1', '2002:7f00:1::', // IPv4 embedded in NAT64 and 6to4
    ];
    for (const bad of blocked) expect(isPublicAddress(bad), bad).to.equal(false);
  });

  // Each IPv6 form that carries an IPv4 address, around 169.254.169.254 (cloud metadata) and 8.8.8.8 (public).
  const carrying = {
    'IPv4-mapped': { metadata: '::ffff:169.254.169.254', public: '::ffff:8.8.8.8' },
    'IPv4-compatible': { metadata: '::a9fe:a9fe', public: '::808:808' },
    'IPv4-translated': { metadata: '::ffff:0:a9fe:a9fe', public: '::ffff:0:808:808' },
    NAT64: { metadata: '64:ff9b::a9fe:a9fe', public: '64:ff9b::808:808' },
    '6to4': { metadata: '2002:a9fe:a9fe::1', public: '2002:808:808::1' },
  };

  it('judges every IPv6 form that carries an IPv4 address by that address', async () => {
    for (const [form, { metadata, public: open }] of Object.entries(carrying)) {
      expect(isPublicAddress(metadata), metadata).to.equal(false);
      expect(await refused(`http://[${metadata}]/`), form).to.contain(`${form} 169.254.169.254, linkLocal`);
      expect(isPublicAddress(open), open).to.equal(true);
      await assertSafeUrl(`http://[${open}]/hook`, none);
    }
    for (const [address, range] of [['::7f00:1', 'loopback'], ['::a00:1', 'private'], ['::ffff:0:a00:1', 'private'], ['2002:a00:1::', 'private'], ['64:ff9b::6440:1', 'carrierGradeNat']]) {
      expect(await refused(`http://[${address}]/`), address).to.contain(range);
    }
  });

  it('judges the addresses a host name resolves to in each of those forms', async () => {
    for (const [form, { metadata, public: open }] of Object.entries(carrying)) {
      expect(await refused('http://hooks.example/', resolvesTo(metadata)), form).to.contain('169.254.169.254');
      await assertSafeUrl('http://hooks.example/', none, resolvesTo(open, '93.184.216.34'));
    }
  });

  it('refuses Teredo and local-use NAT64 whatever they carry, unless allowlisted', async () => {
    // Teredo server 65.54.227.120 and client 192.0.2.45 (RFC 4380's example): both carried, neither judged.
    const teredo = '2001:0:4136:e378:8000:63bf:3fff:fdd2';
    expect(await refused(`http://[${teredo}]/`)).to.contain('teredo');
    expect(await refused('http://hooks.example/', resolvesTo(teredo))).to.contain('teredo');
    // Where 64:ff9b:1::/48 puts the IPv4 address depends on the prefix length its operator chose.
    expect(await refused('http://[64:ff9b:1:808:8:800::]/')).to.contain('rfc6052');
    await assertSafeUrl(`http://[${teredo}]/`, parseAllowlist(['2001::/32']));
  });

  it('lets an IPv4 allowlist entry cover the IPv6 forms of its addresses', async () => {
    const allow = parseAllowlist(['10.0.0.0/8']);
    for (const address of ['::ffff:10.1.2.3', '64:ff9b::a01:203', '2002:a01:203::', '::a01:203']) await assertSafeUrl(`http://[${address}]/`, allow);
    expect(await refused('http://[::ffff:192.168.0.1]/', undefined, allow)).to.contain('192.168.0.1');
  });

  it('refuses a host whose lookup hangs, after the DNS timeout, as a failure another attempt may mend', async () => {
    const hanging: LookupAll = () => new Promise(() => {});
    const started = performance.now();
    const err = await assertSafeUrl('http://slow.example/', none, hanging, { dnsTimeoutMs: 50 }).then(
      () => expect.fail('accepted'),
      (e: unknown) => e,
    );
    expect(performance.now() - started).to.be.below(1000);
    expect(err).to.be.instanceOf(LookupTimeoutError).and.instanceOf(UnsafeUrlError);
    expect((err as Error).message).to.equal('host slow.example did not resolve within 50 ms');
    expect(isRefusal(err)).to.equal(false);
    expect(isRefusal(new UnsafeUrlError('private'))).to.equal(true);

    const atConnection = await new Promise<Error | null>((resolve) =>
      guardedLookup(none, hanging, { dnsTimeoutMs: 50 })('slow.example', { all: false }, (e) => resolve(e)),
    );
    expect(atConnection).to.be.instanceOf(LookupTimeoutError).with.property('code', 'ETIMEOUT');
  });

  it('allows http and https only, without credentials', async () => {
    expect(await refused('ftp://example.com/x')).to.contain('http');
    expect(await refused('file:///etc/passwd')).to.contain('http');
    expect(await refused('http://user:pw@example.com/')).to.contain('credentials');
    expect((await assertSafeUrl('https://example.com/hook', none, resolvesTo('93.184.216.34'))).hostname).to.equal('example.com');
  });

  it('judges the addresses a host name resolves to', async () => {
    expect(await refused('http://rebind.example/hook', resolvesTo('127.0.0.1'))).to.contain('127.0.0.1');
    expect(await refused('http://mixed.example/hook', resolvesTo('93.184.216.34', '10.0.0.5'))).to.contain('10.0.0.5');
    expect(await refused('http://meta.example/', resolvesTo('169.254.169.254'))).to.contain('169.254.169.254');
  });

  it('refuses literal addresses, including IPv4-mapped IPv6', async () => {
    expect(await refused('http://127.0.0.1:8080/')).to.contain('127.0.0.1');
    expect(await refused('http://[::ffff:127.0.0.1]/')).to.match(/127\.0\.0\.1|loopback/);
    expect(await refused('http://[::1]/')).to.contain('::1');
  });

  it('refuses the real localhost, which resolves to 127.0.0.1', async () => {
    expect(await refused('http://localhost:3000/hook', systemLookupAll)).to.match(/127\.0\.0\.1|::1/);
  });

  it('lets the allowlist exempt host names and CIDR ranges', async () => {
    const allow = parseAllowlist(['localhost', '10.0.0.0/8', '::1']);
    await assertSafeUrl('http://localhost:3000/hook', allow);
    await assertSafeUrl('http://internal.example/hook', allow, resolvesTo('10.20.30.40'));
    await assertSafeUrl('http://[::1]:3000/', allow);
    expect(await refused('http://internal.example/hook', resolvesTo('192.168.0.1'), allow)).to.contain('192.168.0.1');
  });

  it('refuses at connection time a host that has been re-pointed inside the network', async () => {
    const connect = (lookup: LookupAll, host = 'hooks.example', allow = none) =>
      new Promise<{ err: Error | null; address: string | LookupAddress[] }>((resolve) =>
        guardedLookup(allow, lookup)(host, { all: false }, (err, address) => resolve({ err, address })),
      );
    const rebound = await connect(resolvesTo('127.0.0.1'));
    expect(rebound.err).to.be.instanceOf(UnsafeUrlError);
    expect((await connect(resolvesTo('93.184.216.34'))).address).to.equal('93.184.216.34');
    expect((await connect(resolvesTo('10.1.2.3'), 'hooks.example', parseAllowlist(['hooks.example']))).address).to.equal('10.1.2.3');
  });

  it('parses the configured list once, at start: the configuration carries the allowlist itself', async () => {
    const { callbackAllowedHosts: allow } = loadConfig({ CALLBACK_ALLOWED_HOSTS: 'localhost, 10.0.0.0/8' });
    expect(allow.entries).to.deep.equal(['localhost', '10.0.0.0/8']);
    expect((await assertSafeUrl('http://10.1.2.3/hook', allow)).hostname).to.equal('10.1.2.3');
  });

  it('refuses a host that does not resolve', async () => {
    const failing: LookupAll = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    expect(await refused('http://nowhere.invalid/', failing)).to.contain('does not resolve');
  });
});
