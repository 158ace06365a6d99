// The API's own reference, unauthenticated like any public API's: the OpenAPI document and the page that renders it.
import { z } from 'zod';
import { docsHtml, DOCS_PATH, OPENAPI_PATH, type OpenApiDocument } from '../contract/openapi.js';
import type { DefineRoute } from '../contract/route-table.js';

/** `document` is read at the first request: the document is complete only once every route is declared. */
export function docsRoutes(define: DefineRoute, document: () => OpenApiDocument): void {
  let json: string | undefined;
  define(
    {
      method: 'get',
      path: OPENAPI_PATH,
      operationId: 'getOpenApiDocument',
      summary: 'This document (OpenAPI 3.1)',
      tag: 'docs',
      audience: 'public',
      responses: { 200: { description: 'The OpenAPI document, generated from the schemas that validate each route.', schema: z.object({ openapi: z.string() }).loose() } },
    },
    (_input, _req, res) => {
      json ??= JSON.stringify(document());
      res.type('application/json').send(json);
    },
  );

  define(
    {
      method: 'get',
      path: DOCS_PATH,
      operationId: 'getDocs',
      summary: 'This document, rendered (swagger-ui, served by the app itself)',
      tag: 'docs',
      audience: 'public',
      responses: { 200: { description: 'An HTML page.', content: { 'text/html': z.string() } } },
    },
    (_input, _req, res) => {
      res.type('html').send(docsHtml);
    },
  );
}
