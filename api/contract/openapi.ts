// The OpenAPI 3.1 document built from the route table, served at /openapi.json and rendered at /docs by swagger-ui from node_modules.
import { createRequire } from 'node:module';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import express, { type Router } from 'express';
import { BEARER_SCHEME } from './components.js';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

/** A registry with the API's security scheme; routes add themselves to it as they are declared. */
export function createRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key issued to a user (`ak_…`): `Authorization: Bearer <key>`.',
  });
  return registry;
}

/** Generates the document once every route is declared. */
export function buildDocument(registry: OpenAPIRegistry, version: string) {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Antaeus API',
      version,
      description:
        'Billing and e-invoicing back office. Errors answer `{ error: { code, message, details } }`; lists answer `{ data, nextCursor }`; accepted work answers 202. Every authenticated answer carries the `RateLimit-Policy` and `RateLimit` headers.',
    },
    servers: [{ url: '/' }],
    security: [{ [BEARER_SCHEME]: [] }],
    tags: [
      { name: 'invoices', description: 'Electronic invoices and their FatturaPA documents.' },
      { name: 'sdi', description: 'Notifications and receipts from the SdI.' },
      { name: 'billing', description: 'The monthly billing run.' },
      { name: 'payments', description: 'The payments ledger and one-off payments.' },
      { name: 'orders', description: 'Orders: checkout, fulfilment and refund, exactly once.' },
      { name: 'collections', description: 'Data collection from gas and internet providers, retried with backoff, the outcome posted back.' },
      { name: 'customers', description: 'The customers an API key acts for.' },
      { name: 'users', description: 'Users and API keys (operators).' },
      { name: 'webhooks', description: 'The callback signing secret.' },
      { name: 'reports', description: 'CSV reports on demand (operators).' },
      { name: 'health', description: 'Liveness and readiness, without authentication.' },
      { name: 'docs', description: 'This document.' },
    ],
  });
}

export type OpenApiDocument = ReturnType<typeof buildDocument>;

const require = createRequire(import.meta.url);

/** The swagger-ui page, pointed at our document; every file it loads is served by this app. */
function docsPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Antaeus API</title>
  <link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
  <script src="${DOCS_PATH}/init.js"></script>
</body>
</html>`;
}

// External, not inline, so the page works under a Content-Security-Policy that forbids inline scripts.
const initScript = `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(OPENAPI_PATH)}, dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: false });`;

/** The page that renders the document (its own route, in the table) and the files it loads. */
export const docsHtml = docsPage();

/** Serves swagger-ui's files and the script that points it at the document, below /docs. */
export function docsAssets(): Router {
  const assets = express.Router();
  assets.get('/init.js', (_req, res) => {
    res.type('application/javascript').send(initScript);
  });
  // absolute-path.js, not the package's index: that one loads swagger-ui's whole bundle into this process.
  const dir: string = require('swagger-ui-dist/absolute-path.js')();
  assets.use(express.static(dir, { index: false, maxAge: '1d' }));
  return assets;
}
