// User routes (operators only): create users and API keys, link and unlink the customers a user acts for.
import { z } from 'zod';
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
import { resourceId } from '../../shared/platform/input.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { errorBody, instant, pageOf } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { ApiError, notFound } from '../errors.js';
import { RATE_COST } from '../rate-limit.js';

const apiKeyInfo = z.object({ id: z.string(), prefix: z.string(), createdAt: instant, revokedAt: instant.nullable() }).meta({ id: 'ApiKeyInfo' });
const user = z
  .object({
    id: z.string(),
    username: z.string(),
    email: z.string(),
    role: z.enum(['client', 'operator']),
    customerIds: z.array(z.string()),
    createdAt: instant,
    apiKeys: z.array(apiKeyInfo),
  })
  .meta({ id: 'User' });
const secretKey = z.string().meta({ description: 'The key itself: shown in this answer only, stored hashed.', example: 'ak_…' });
const createdUser = user.omit({ apiKeys: true }).extend({ apiKey: secretKey }).meta({ id: 'CreatedUser' });
const issuedKey = z.object({ id: z.string(), prefix: z.string(), createdAt: instant, apiKey: secretKey }).meta({ id: 'IssuedApiKey' });

const userId = resourceId(64).meta({ description: 'The user id.' });
const userParams = z.strictObject({ id: userId });
const keyParams = z.strictObject({ id: userId, keyId: resourceId(64).meta({ description: 'The API key id.' }) });
const linkParams = z.strictObject({ id: userId, customerId: resourceId(64).meta({ description: 'The customer id.' }) });

export function usersRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create a user and its first API key',
      tag: 'users',
      audience: 'operator',
      body: userInputSchema,
      cost: RATE_COST.write,
      responses: {
        201: { description: 'Created; the API key is shown here and never again.', schema: createdUser, headers: z.object({ Location: z.string() }) },
        409: { description: 'The username is taken.', schema: errorBody },
      },
    },
    async ({ body: input }, _req, res) => {
      const result = await createUser(ctx.db, input);
      if (result.outcome === 'duplicate_username') throw new ApiError(409, 'conflict', `username ${input.username} is taken`);
      if (result.outcome === 'unknown_customers') {
        const details = result.customerIds.map((id) => ({ field: `customerIds.${input.customerIds!.indexOf(id)}`, message: `no customer ${id}` }));
        throw new ApiError(400, 'invalid_request', 'invalid body', details);
      }
      // The key is shown here and never again: the database keeps only its hash.
      const { apiKeys: _apiKeys, ...created } = result.user;
      res.status(201).location(`/v1/users/${created.id}`).json({ ...created, apiKey: result.apiKey });
    },
  );

  define(
    {
      method: 'get',
      path: '/users',
      operationId: 'listUsers',
      summary: 'List users, newest first',
      tag: 'users',
      audience: 'operator',
      query: z.strictObject(pageQuery.shape),
      responses: { 200: { description: 'One page of users.', schema: pageOf(user, 'UserPage') } },
    },
    async ({ query }, _req, res) => {
      res.json(await listUsers(ctx.db, toPageArgs(query)));
    },
  );

  define(
    {
      method: 'get',
      path: '/users/:id',
      operationId: 'getUser',
      summary: 'Read a user, its customers and its keys (never the keys themselves)',
      tag: 'users',
      audience: 'operator',
      params: userParams,
      responses: { 200: { description: 'The user.', schema: user } },
    },
    async ({ params }, _req, res) => {
      const found = await findUser(ctx.db, params.id);
      if (!found) throw notFound('user');
      res.json(found);
    },
  );

  // Existing keys keep working, so a client can roll over to the new key before the old one is revoked.
  define(
    {
      method: 'post',
      path: '/users/:id/api-keys',
      operationId: 'issueApiKey',
      summary: 'Issue another API key to a user',
      description: 'Existing keys keep working, so a client can roll over before the old key is revoked.',
      tag: 'users',
      audience: 'operator',
      params: userParams,
      cost: RATE_COST.write,
      responses: { 201: { description: 'Issued; the key is shown here and never again.', schema: issuedKey } },
    },
    async ({ params }, _req, res) => {
      if (!(await userExists(ctx.db, params.id))) throw notFound('user');
      res.status(201).json(await issueApiKey(ctx.db, params.id));
    },
  );

  define(
    {
      method: 'delete',
      path: '/users/:id/api-keys/:keyId',
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key',
      tag: 'users',
      audience: 'operator',
      params: keyParams,
      cost: RATE_COST.write,
      responses: { 204: { description: 'Revoked.' } },
    },
    async ({ params }, _req, res) => {
      if (!(await revokeApiKey(ctx.db, params.id, params.keyId))) throw notFound('API key');
      res.status(204).end();
    },
  );

  define(
    {
      method: 'put',
      path: '/users/:id/customers/:customerId',
      operationId: 'linkCustomer',
      summary: 'Let a user act for a customer',
      tag: 'users',
      audience: 'operator',
      params: linkParams,
      cost: RATE_COST.write,
      responses: { 204: { description: 'Linked (already linked is fine).' } },
    },
    async ({ params }, _req, res) => {
      if (!(await userExists(ctx.db, params.id))) throw notFound('user');
      if (!(await findCustomer(ctx.db, params.customerId))) throw notFound('customer');
      await linkCustomer(ctx.db, params.id, params.customerId);
      res.status(204).end();
    },
  );

  define(
    {
      method: 'delete',
      path: '/users/:id/customers/:customerId',
      operationId: 'unlinkCustomer',
      summary: 'Stop a user acting for a customer',
      tag: 'users',
      audience: 'operator',
      params: linkParams,
      cost: RATE_COST.write,
      responses: { 204: { description: 'Unlinked (not linked is fine).' } },
    },
    async ({ params }, _req, res) => {
      if (!(await userExists(ctx.db, params.id))) throw notFound('user');
      await unlinkCustomer(ctx.db, params.id, params.customerId);
      res.status(204).end();
    },
  );
}
