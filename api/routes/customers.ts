// Customer routes: clients read the customers linked to their user; operators read all and create them.
import { z } from 'zod';
import type { AppContext } from '../../queues/context.js';
import { customerInputSchema, findVisibleCustomer, insertCustomer, listCustomers } from '../../shared/access/customers.js';
import { resourceId } from '../../shared/platform/input.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { errorBody, instant, pageOf } from '../contract/components.js';
import type { DefineRoute } from '../contract/route-table.js';
import { ApiError, notFound } from '../errors.js';
import { RATE_COST } from '../rate-limit.js';

const customer = z
  .object({
    id: z.string().meta({ example: 'acme-srl' }),
    name: z.string(),
    vatNumber: z.string().nullable(),
    fiscalCode: z.string().nullable(),
    address: z.object({ street: z.string(), postalCode: z.string(), city: z.string(), province: z.string().nullable(), country: z.string() }),
    sdiCode: z.string().meta({ description: '`0000000` when invoices reach the buyer through its PEC.' }),
    pec: z.string().nullable(),
    currency: z.string(),
    email: z.string(),
    username: z.string(),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'Customer' });

const idParams = z.strictObject({ id: resourceId(64).meta({ description: 'The customer id.' }) });

export function customersRoutes(define: DefineRoute, ctx: AppContext): void {
  define(
    {
      method: 'get',
      path: '/customers',
      operationId: 'listCustomers',
      summary: 'List the customers the key acts for (operators: all)',
      tag: 'customers',
      audience: 'client',
      query: z.strictObject(pageQuery.shape),
      responses: { 200: { description: 'One page of customers.', schema: pageOf(customer, 'CustomerPage') } },
    },
    async ({ query }, _req, res) => {
      res.json(await listCustomers(ctx.db, res.locals.principal, toPageArgs(query)));
    },
  );

  define(
    {
      method: 'get',
      path: '/customers/:id',
      operationId: 'getCustomer',
      summary: 'Read a customer',
      tag: 'customers',
      audience: 'client',
      params: idParams,
      responses: { 200: { description: 'The customer.', schema: customer } },
    },
    async ({ params }, _req, res) => {
      const found = await findVisibleCustomer(ctx.db, res.locals.principal, params.id);
      if (!found) throw notFound('customer');
      res.json(found);
    },
  );

  define(
    {
      method: 'post',
      path: '/customers',
      operationId: 'createCustomer',
      summary: 'Create a customer',
      tag: 'customers',
      audience: 'operator',
      body: customerInputSchema,
      cost: RATE_COST.write,
      responses: {
        201: { description: 'Created.', schema: customer, headers: z.object({ Location: z.string() }) },
        409: { description: 'A customer with this id exists.', schema: errorBody },
      },
    },
    async ({ body }, _req, res) => {
      const { id, created } = await insertCustomer(ctx.db, body);
      if (!created) throw new ApiError(409, 'conflict', `customer ${id} already exists`);
      res.status(201).location(`/v1/customers/${id}`).json(await findVisibleCustomer(ctx.db, res.locals.principal, id));
    },
  );
}
