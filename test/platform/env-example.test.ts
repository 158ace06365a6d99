// .env.example documents every variable the configuration reads, and parses as it stands.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { expect } from 'chai';
import { ENV_NAMES, loadConfig } from '../../shared/platform/config.js';

describe('.env.example', () => {
  const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');

  it('names every variable of the configuration', () => {
    const documented = Object.keys(parseEnv(text));
    expect(documented).to.include.members(ENV_NAMES);
    expect(ENV_NAMES).to.include.members(documented);
  });

  it('is a valid configuration as it stands', () => {
    expect(() => loadConfig(parseEnv(text) as NodeJS.ProcessEnv)).to.not.throw();
  });
});
