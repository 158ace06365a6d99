// Request checks shared by routes: may this caller act for this customer, and is this callback URL safe.
import { canAccessCustomer, type Principal } from '../shared/access/principal.js';
import { assertSafeUrl, UnsafeUrlError, type Allowlist } from '../shared/platform/ssrf.js';
import { ApiError, forbidden } from './errors.js';

export function requireCustomer(principal: Principal, customerId: string): void {
  if (!canAccessCustomer(principal, customerId)) throw forbidden(`this API key may not act for customer ${customerId}`);
}

/** Refuses a callback URL the workers would refuse to call, so the client hears it now rather than never. */
export async function assertCallbackUrl(allow: Allowlist, url: string): Promise<void> {
  try {
    await assertSafeUrl(url, allow);
  } catch (err) {
    if (!(err instanceof UnsafeUrlError)) throw err;
    throw new ApiError(400, 'invalid_request', 'invalid body', [{ field: 'callbackUrl', message: err.message }]);
  }
}
