// `npm run validate:xml -- <file>…`: checks FatturaPA invoices (or, with --receipt, SdI receipts) against the official schemas.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createXsdValidator, INVOICE_XSD, MESSAGES_XSD } from '../shared/sdi/fatturapa/xsd.js';

const args = process.argv.slice(2);
const schema = args.includes('--receipt') ? MESSAGES_XSD : INVOICE_XSD;
const files = args.filter((a) => a !== '--receipt');
if (files.length === 0) {
  console.error('usage: npm run validate:xml -- [--receipt] <file.xml>…');
  process.exit(2);
}

const validator = createXsdValidator();
let failed = 0;
for (const file of files) {
  const result = await validator.validate(readFileSync(file), schema, basename(file));
  if (result.valid) {
    console.log(`${file} validates against ${schema}`);
    continue;
  }
  failed += 1;
  console.log(`${file} fails to validate against ${schema}:`);
  for (const e of result.errors) console.log(`  ${e.line ? `line ${e.line}: ` : ''}${e.message}`);
}
await validator.close();
process.exit(failed ? 1 : 0);
