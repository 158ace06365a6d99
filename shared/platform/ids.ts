// Identifiers: random ids for new rows, and stable ids (UUIDv5) where the same input must always map to the same id.
import { randomUUID } from 'node:crypto';
import { parse as parseUuid, v5 as uuidv5 } from 'uuid';

// A fixed namespace so ids stay stable across processes and releases; parsed once, not on every id.
const NAMESPACE = parseUuid('5b0c3e39-6f0e-4d55-9a57-6e1b0f7f2a11');

export const newId = (): string => randomUUID();

/**
 * The same parts always give the same UUID, in every process and release: a resubmission, a replayed request or a
 * retried job lands on the id the first one made. The first part names what the id is for, so kinds never collide.
 */
export function stableId(...parts: string[]): string {
  return uuidv5(JSON.stringify(parts), NAMESPACE);
}
