// Reads an SdI receipt in one streaming pass (saxes): time linear in its length, nothing kept but the fields we use, and a wall on depth, elements and attributes.
import { SaxesParser } from 'saxes';
import { XmlParseError } from './dom.js';

/**
 * How much structure a receipt may have. The SdI's own are shallow (the XML signature is the deepest part, at about
 * 7 levels), carry a handful of attributes per element, and list at most 200 errors of 3 elements each.
 */
export interface SdiError {
  code: string;
  description: string;
}

export interface ParsedReceipt {
  /** The root element's name, e.g. RicevutaConsegna; may be a message type we do not handle. */
  messageType: string;
  fileName: string | undefined;
  sdiIdentifier: string | undefined;
  messageId: string | undefined;
  errors: SdiError[];
  description: string | undefined;
}

export interface ReceiptLimits {
  /** Elements nested in one another. @defaultValue `24` */
  maxDepth: number;
  /** Elements in the whole document. @defaultValue `2000` */
  maxElements: number;
  /** Attributes of one element, namespace declarations included. @defaultValue `16` */
  maxAttributes: number;
}

export const RECEIPT_LIMITS: ReceiptLimits = { maxDepth: 24, maxElements: 2000, maxAttributes: 16 };

// The children of the root we read (their text), as the SdI message types name them.
const ROOT_FIELDS = ['IdentificativoSdI', 'NomeFile', 'MessageId', 'Descrizione'] as const;
type RootField = (typeof ROOT_FIELDS)[number];
const isRootField = (name: string): name is RootField => (ROOT_FIELDS as readonly string[]).includes(name);

/**
 * The root element's name and the fields parseSdiReceipt returns, read as a DOM walk would (the first child of that
 * name, its text trimmed, descendants' text included); throws XmlParseError on what is not well-formed, on a DOCTYPE
 * (SdI messages never have one, and entities are an attack surface) and past the limits.
 */
export function readReceiptXml(xml: string, limits: ReceiptLimits = RECEIPT_LIMITS): ParsedReceipt {
  const parser = new SaxesParser({ xmlns: true });
  let root: string | undefined;
  let depth = 0;
  let elements = 0;
  let attributes = 0;
  const fields: Partial<Record<RootField, string>> = {};
  const errors: Partial<SdiError>[] = [];
  // Where we are among the elements read: the first ListaErrori (depth 2), and the Errore open in it (depth 3).
  let errorList: 'before' | 'open' | 'after' = 'before';
  let openError: Partial<SdiError> | undefined;
  // The element whose text is being gathered, and where it goes once closed.
  let capture: { depth: number; text: string; done(text: string | undefined): void } | undefined;

  parser.on('doctype', () => {
    throw new XmlParseError('a DOCTYPE is not allowed in an SdI document');
  });
  parser.on('opentagstart', () => {
    depth += 1;
    elements += 1;
    attributes = 0;
    if (depth > limits.maxDepth) throw new XmlParseError(`elements nested deeper than ${limits.maxDepth}: not an SdI receipt`);
    if (elements > limits.maxElements) throw new XmlParseError(`more than ${limits.maxElements} elements: not an SdI receipt`);
  });
  parser.on('attribute', () => {
    attributes += 1;
    if (attributes > limits.maxAttributes) throw new XmlParseError(`an element with more than ${limits.maxAttributes} attributes: not an SdI receipt`);
  });
  parser.on('opentag', (tag) => {
    const name = tag.local;
    if (depth === 1) root = name;
    if (capture) return;
    const gather = (done: (text: string | undefined) => void) => (capture = { depth, text: '', done });
    if (depth === 2 && isRootField(name) && fields[name] === undefined) gather((text) => (fields[name] = text ?? ''));
    else if (depth === 2 && name === 'ListaErrori' && errorList === 'before') errorList = 'open';
    else if (depth === 3 && errorList === 'open' && name === 'Errore') errors.push((openError = {}));
    else if (depth === 4 && openError && name === 'Codice' && openError.code === undefined) {
      const error = openError;
      gather((text) => (error.code = text ?? ''));
    } else if (depth === 4 && openError && name === 'Descrizione' && openError.description === undefined) {
      const error = openError;
      gather((text) => (error.description = text ?? ''));
    }
  });
  const addText = (text: string) => {
    if (capture) capture.text += text;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    if (capture?.depth === depth) {
      capture.done(capture.text.trim() || undefined);
      capture = undefined;
    }
    if (depth === 3) openError = undefined;
    if (depth === 2 && errorList === 'open') errorList = 'after';
    depth -= 1;
  });

  try {
    parser.write(xml.replace(/^\uFEFF/, '')).close();
  } catch (err) {
    if (err instanceof XmlParseError) throw err;
    throw new XmlParseError(`not well-formed XML: ${(err as Error).message}`);
  }
  const text = (name: RootField) => fields[name] || undefined;
  return {
    messageType: root!,
    fileName: text('NomeFile'),
    sdiIdentifier: text('IdentificativoSdI'),
    messageId: text('MessageId'),
    errors: errors.map((e) => ({ code: e.code ?? '', description: e.description ?? '' })),
    description: text('Descrizione'),
  };
}
