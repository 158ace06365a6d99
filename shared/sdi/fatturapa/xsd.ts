// XSD validation of FatturaPA invoices and SdI receipts with xmllint (libxml2 compiled to WebAssembly): no native tools needed.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';

export const INVOICE_XSD = 'Schema_del_file_xml_FatturaPA_v1.2.2.xsd';
export const MESSAGES_XSD = 'MessaggiTypes_v1.1.xsd';
const DSIG_XSD = 'xmldsig-core-schema.xsd';

export type XsdName = typeof INVOICE_XSD | typeof MESSAGES_XSD;

export interface XsdError {
  /** The document line the error is on, when xmllint reports one. */
  line: number | null;
  message: string;
}

export interface XsdResult {
  valid: boolean;
  errors: XsdError[];
}

// The schemas ship beside this file; compiled code in dist/ finds them in the source tree it was built from.
function schemaDir(): string {
  for (const candidate of ['./xsd/', '../../../../shared/sdi/fatturapa/xsd/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(dir + INVOICE_XSD)) return dir;
  }
  throw new Error('FatturaPA schemas not found beside shared/sdi/fatturapa/xsd.ts');
}

/** The schema files, read once per validator; the XML-DSig schema is preloaded so nothing is fetched from the network. */
export function createXsdValidator(dir = schemaDir()) {
  const read = (fileName: string): XMLFileInfo => ({ fileName, contents: readFileSync(dir + fileName) });
  const dsig = read(DSIG_XSD);
  const schemas = new Map<XsdName, XMLFileInfo>([
    [INVOICE_XSD, read(INVOICE_XSD)],
    [MESSAGES_XSD, read(MESSAGES_XSD)],
  ]);

  return {
    /** Validates one document against one of the SdI schemas. */
    async validate(xml: string | Uint8Array, schema: XsdName, fileName = 'document.xml'): Promise<XsdResult> {
      // xmllint reads UTF-8 only, and trips over the byte-order mark some producers prepend.
      const contents = typeof xml === 'string' ? xml.replace(/^\uFEFF/, '') : xml;
      const result = await validateXML({
        xml: { fileName: safeName(fileName), contents },
        schema: schemas.get(schema)!,
        preload: [dsig],
      });
      return {
        valid: result.valid,
        errors: result.errors.map((e) => ({ line: e.loc?.lineNumber ?? null, message: e.message.trim() })),
      };
    },
  };
}

export type XsdValidator = ReturnType<typeof createXsdValidator>;

// xmllint would read a name starting with a dash as an option, and the name is only used in messages.
const safeName = (name: string) => (/^[A-Za-z0-9_.]{1,60}$/.test(name) ? name : 'document.xml');
