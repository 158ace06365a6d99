// User routes (operators only): create users and API keys, link and unlink the customers a user acts for.
import type { Request, Router } from 'express';
import type { AppContext } from '../../queues/context.js';
import { findCustomer } from '../../shared/access/customers.js';
import {
  createUser,
  findUser,
  issueApiKey,
  linkCustomer,
  listUsers,
  revokeApiKey,
  unlinkCustomer,
  userExists,
  userInputSchema,
} from '../../shared/access/users.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { requireOperator } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { parseBody, parseQuery } from '../validate.js';

// With requireOperator ahead of the handler, express's types no longer read the parameter names from the path.
type Params<K extends string> = Request<Record<K, string>>;

export function usersRoutes(router: Router, ctx: AppContext): void {

  router.post('/users', requireOperator, async (req, res) => {
    const input = parseBody(userInputSchema, req.body);
    const result = await createUser(ctx.db, input);
    if (result.outcome === 'duplicate_username') throw new ApiError(409, 'conflict', `username ${input.username} is taken`);
    if (result.outcome === 'unknown_customers') {
      const details = result.customerIds.map((id) => ({ field: `customerIds.${input.customerIds!.indexOf(id)}`, message: `no customer ${id}` }));
      throw new ApiError(400, 'invalid_request', 'invalid body', details);
    }
    // The key is shown here and never again: the database keeps only its hash.
    const { apiKeys: _apiKeys, ...user } = result.user;
    res.status(201).location(`/v1/users/${user.id}`).json({ ...user, apiKey: result.apiKey });
  });

  router.get('/users', requireOperator, async (req, res) => {
    const query = parseQuery(pageQuery, req.query);
    res.json(await listUsers(ctx.db, toPageArgs(query)));
  });

  router.get('/users/:id', requireOperator, async (req: Params<'id'>, res) => {
    const user = await findUser(ctx.db, req.params.id);
    if (!user) throw notFound('user');
    res.json(user);
  });

  // Existing keys keep working, so a client can roll over to the new key before the old one is revoked.
  router.post('/users/:id/api-keys', requireOperator, async (req: Params<'id'>, res) => {
    if (!(await userExists(ctx.db, req.params.id))) throw notFound('user');
    res.status(201).json(await issueApiKey(ctx.db, req.params.id));
  });

  router.delete('/users/:id/api-keys/:keyId', requireOperator, async (req: Params<'id' | 'keyId'>, res) => {
    if (!(await revokeApiKey(ctx.db, req.params.id, req.params.keyId))) throw notFound('API key');
    res.status(204).end();
  });

  router.put('/users/:id/customers/:customerId', requireOperator, async (req: Params<'id' | 'customerId'>, res) => {
    if (!(await userExists(ctx.db, req.params.id))) throw notFound('user');
    if (!(await findCustomer(ctx.db, req.params.customerId))) throw notFound('customer');
    await linkCustomer(ctx.db, req.params.id, req.params.customerId);
    res.status(204).end();
  });

  router.delete('/users/:id/customers/:customerId', requireOperator, async (req: Params<'id' | 'customerId'>, res) => {
    if (!(await userExists(ctx.db, req.params.id))) throw notFound('user');
    await unlinkCustomer(ctx.db, req.params.id, req.params.customerId);
    res.status(204).end();
  });

}
