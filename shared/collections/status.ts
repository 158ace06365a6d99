// The providers a collection can ask, the statuses a collection request moves through, and what each provider call ended as.

/** The data providers a client may ask for: each has its URL in the configuration (GAS_PROVIDER_URL, INTERNET_PROVIDER_URL). */
export const PROVIDERS = ['gas', 'internet'] as const;
export type Provider = (typeof PROVIDERS)[number];

/**
 * `pending` (written, not tried yet) → `collecting` (a provider call in flight) → `succeeded`, or `retrying` (the
 * next try is scheduled) → `collecting` → …, or `failed` (refused at once, or out of attempts: critical).
 */
export const COLLECTION_STATUSES = ['pending', 'collecting', 'retrying', 'succeeded', 'failed'] as const;
export type CollectionStatus = (typeof COLLECTION_STATUSES)[number];

export const FINAL_COLLECTION_STATUSES: readonly CollectionStatus[] = ['succeeded', 'failed'];
export const UNFINISHED_COLLECTION_STATUSES: readonly CollectionStatus[] = ['pending', 'collecting', 'retrying'];

export const isFinalCollectionStatus = (status: CollectionStatus): boolean => FINAL_COLLECTION_STATUSES.includes(status);

/**
 * `succeeded`: the data is stored. `retrying`: worth another try (5xx, 408, 429, no answer). `failed`: the call that
 * failed the collection. `interrupted`: its worker died before the outcome was written; a later try replaced it.
 */
export const ATTEMPT_OUTCOMES = ['succeeded', 'retrying', 'failed', 'interrupted'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];
