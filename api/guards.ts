// Request checks shared by routes: may this caller act for this customer, and is this callback URL safe.
import type { Knex } from 'knex';
import type { Config } from '../shared/config.js';
import { canAccessCustomer, type Principal } from '../shared/principal.js';
import { assertSafeUrl, parseAllowlist, UnsafeUrlError } from '../shared/ssrf.js';
import { ApiError, forbidden } from './errors.js';

export async function requireCustomer(db: Knex, principal: Principal, customerId: string): Promise<void> {
  if (!(await canAccessCustomer(db, principal, customerId))) throw forbidden(`this API key may not act for customer ${customerId}`);
}

/** Refuses a callback URL the workers would refuse to call, so the client hears it now rather than never. */
export async function assertCallbackUrl(config: Pick<Config, 'callbackAllowedHosts'>, url: string): Promise<void> {
  try {
    await assertSafeUrl(url, parseAllowlist(config.callbackAllowedHosts));
  } catch (err) {
    if (!(err instanceof UnsafeUrlError)) throw err;
    throw new ApiError(400, 'invalid_request', 'invalid body', [{ field: 'callbackUrl', message: err.message }]);
  }
}
