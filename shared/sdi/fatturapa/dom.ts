// Reading FatturaPA documents we trust (our own, after schema validation) as a DOM, walked by local name whatever the prefix; what a client posts goes through receipt-parser.ts.
import { create } from 'xmlbuilder2';

export interface XmlElement {
  nodeType: number;
  localName: string;
  textContent: string | null;
  childNodes: ArrayLike<XmlElement>;
}

export class XmlParseError extends Error {
  override name = 'XmlParseError';
}

/**
 * The document's root element. A DOCTYPE is refused: SdI documents never have one, and entities are an attack surface.
 * Not for untrusted input: xmlbuilder2 is quadratic in an element's attributes and recursive in depth.
 */
export function parseXmlRoot(xml: string): XmlElement {
  if (/<!DOCTYPE/i.test(xml)) throw new XmlParseError('a DOCTYPE is not allowed in an SdI document');
  try {
    return create(xml.replace(/^\uFEFF/, '')).root().node as unknown as XmlElement;
  } catch (err) {
    throw new XmlParseError(`not well-formed XML: ${(err as Error).message}`);
  }
}

export const childElements = (el: XmlElement | undefined, name: string): XmlElement[] =>
  el ? Array.from(el.childNodes).filter((n) => n.nodeType === 1 && n.localName === name) : [];

/** The element at a path of child names, e.g. find(root, 'FatturaElettronicaHeader', 'DatiTrasmissione'). */
export function find(el: XmlElement | undefined, ...path: string[]): XmlElement | undefined {
  return path.reduce<XmlElement | undefined>((at, name) => childElements(at, name)[0], el);
}

export const textAt = (el: XmlElement | undefined, ...path: string[]): string | undefined => find(el, ...path)?.textContent?.trim() || undefined;
