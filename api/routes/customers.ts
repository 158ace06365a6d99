// Customer routes: clients read the customers linked to their user; operators read all and create them.
import type { Router } from 'express';
import type { AppContext } from '../../queues/context.js';
import { customerInputSchema, findVisibleCustomer, insertCustomer, listCustomers } from '../../shared/access/customers.js';
import { pageQuery, toPageArgs } from '../../shared/platform/pagination.js';
import { requireOperator } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { parseBody, parseQuery } from '../validate.js';

export function customersRoutes(router: Router, ctx: AppContext): void {

  router.get('/customers', async (req, res) => {
    const query = parseQuery(pageQuery, req.query);
    res.json(await listCustomers(ctx.db, res.locals.principal, toPageArgs(query)));
  });

  router.get('/customers/:id', async (req, res) => {
    const customer = await findVisibleCustomer(ctx.db, res.locals.principal, req.params.id);
    if (!customer) throw notFound('customer');
    res.json(customer);
  });

  router.post('/customers', requireOperator, async (req, res) => {
    const input = parseBody(customerInputSchema, req.body);
    const { id, created } = await insertCustomer(ctx.db, input);
    if (!created) throw new ApiError(409, 'conflict', `customer ${id} already exists`);
    res.status(201).location(`/v1/customers/${id}`).json(await findVisibleCustomer(ctx.db, res.locals.principal, id));
  });

}
