// SdI file names: IT<IdCodice>_<progressive>.xml, the progressive five characters that are never reused.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const WIDTH = 5;

/** How many files one transmitter can ever name: 36^5, about 60 million. */
export const MAX_PROGRESSIVE = ALPHABET.length ** WIDTH - 1;

/**
 * The n-th progressive (n ≥ 1) as five characters of [0-9A-Z].
 * Upper case only, though the SdI also accepts lower case: a name must not collide with another on a
 * case-insensitive file system or mail archive.
 */
export function encodeProgressive(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PROGRESSIVE) {
    throw new RangeError(`progressive ${n} is outside 1..${MAX_PROGRESSIVE}: this transmitter has no file names left`);
  }
  let out = '';
  for (let rest = n; rest > 0; rest = Math.floor(rest / ALPHABET.length)) out = ALPHABET[rest % ALPHABET.length] + out;
  return out.padStart(WIDTH, '0');
}

export function sdiFileName(transmitter: { country: string; code: string }, progressive: string): string {
  return `${transmitter.country}${transmitter.code}_${progressive}.xml`;
}

/** The parts of an SdI invoice file name, or undefined when it breaks the naming rule (SdI error 00001). */
export function parseSdiFileName(name: string): { country: string; code: string; progressive: string } | undefined {
  const match = /^([A-Z]{2})([A-Za-z0-9]{1,28})_([A-Za-z0-9]{1,5})\.(?:xml|XML)$/.exec(name);
  return match ? { country: match[1]!, code: match[2]!, progressive: match[3]! } : undefined;
}
