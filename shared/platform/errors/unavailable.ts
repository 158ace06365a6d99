// A dependency (Redis, the database) did not answer: the API turns this into 503 with Retry-After.
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: 'redis' | 'database' | 'xsd-validator',
    cause?: unknown,
  ) {
    super(`${dependency} is unavailable`, { cause });
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P03', 'SQLITE_BUSY', 'SQLITE_CANTOPEN']);
const REDIS_MESSAGES = /enableOfflineQueue|Connection is closed|Stream isn't writeable|Reached the max retries per request|connect ETIMEDOUT|Redis did not answer|Command timed out/;

/** Tells whether an error means "a dependency is down" rather than "this request is wrong". */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof DependencyUnavailableError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  if (err.name === 'KnexTimeoutError' || err.name === 'MaxRetriesPerRequestError') return true;
  if (REDIS_MESSAGES.test(err.message)) return true;
  if (/Connection terminated|timeout exceeded when trying to connect/i.test(err.message)) return true;
  return err.cause !== undefined && err.cause !== err && isUnavailable(err.cause);
}

/** Races a dependency call against a deadline so no request waits on a dead dependency. */
export async function withDeadline<T>(dependency: 'redis' | 'database', work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyUnavailableError(dependency, new Error(`no answer in ${ms} ms`))), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    throw isUnavailable(err) ? new DependencyUnavailableError(dependency, err) : err;
  } finally {
    clearTimeout(timer);
  }
}
