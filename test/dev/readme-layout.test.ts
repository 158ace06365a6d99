// The README's layout table is the tree: every folder of the code has its row, and each row names exactly the files the folder holds.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CODE_ROOTS = ['api', 'workers', 'queues', 'shared', 'migrations', 'scripts', 'bench'];

/** Every folder under the code roots that holds TypeScript, with the `.ts` files directly in it. */
function codeFolders(): Map<string, string[]> {
  const folders = new Map<string, string[]>();
  const walk = (dir: string) => {
    const entries = readdirSync(join(root, dir));
    const files = entries.filter((e) => e.endsWith('.ts'));
    if (files.length > 0) folders.set(`${dir}/`, files.sort());
    for (const e of entries) if (statSync(join(root, dir, e)).isDirectory()) walk(`${dir}/${e}`);
  };
  for (const r of CODE_ROOTS) walk(r);
  return folders;
}

/** The layout table: folder → the names in backticks in its row. */
function layoutTable(): Map<string, string[]> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Layout'), readme.indexOf('### Where does X go'));
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const match = /^\| `([^`]+\/)` \| (.*) \|$/.exec(line);
    if (match) rows.set(match[1]!, [...match[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
  }
  return rows;
}

describe('the README layout table', () => {
  const table = layoutTable();

  it('has a row for every folder of the code, and no row for a folder that is not there', () => {
    const folders = [...codeFolders().keys()];
    expect([...table.keys()].filter((f) => f !== 'test/')).to.have.members(folders);
  });

  it('names every file of each folder, and only files that exist', () => {
    for (const [folder, files] of codeFolders()) {
      const named = table.get(folder)!.filter((n) => n.endsWith('.ts'));
      expect(named, folder).to.include.members(files);
      expect(files, folder).to.include.members(named);
    }
  });

  it('names every test folder', () => {
    const named = table.get('test/')!.filter((n) => n.endsWith('/')).map((n) => n.replace(/\/$/, ''));
    const folders = readdirSync(join(root, 'test')).filter((e) => statSync(join(root, 'test', e)).isDirectory());
    expect(named).to.have.members(folders);
  });
});
