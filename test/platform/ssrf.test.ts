// The SSRF guard: only public unicast addresses, after DNS, unless allowlisted.
import type { LookupAddress } from 'node:dns';
import { expect } from 'chai';
import { loadConfig } from '../../shared/platform/config.js';
import { assertSafeUrl, guardedLookup, isPublicAddress, parseAllowlist, systemLookupAll, UnsafeUrlError, type LookupAll } from '../../shared/platform/ssrf.js';

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
