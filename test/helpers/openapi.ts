// Checks an answer against the OpenAPI document: its status is documented for the route, and its JSON body matches the schema.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'chai';
import type { Response } from 'supertest';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}

/** Returns `check(method, path, res)`, which fails the test when the answer is not what the document promises. */
export function documentedAnswer(document: { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, object> } }) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: its default export arrives wrapped under ESM.
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;
  addFormats(ajv);
  ajv.addSchema({ $id: 'doc', components: document.components ?? {} });
  const routes = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      method,
      pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      literal: !path.includes('{'),
      operation,
    })),
  );
  return (method: string, url: string, res: Response) => {
    const path = url.split('?')[0]!;
    // A literal path wins over a templated one, as a router matches /invoices/external before /invoices/{id}.
    const candidates = routes.filter((r) => r.method === method && r.pattern.test(path)).sort((a, b) => Number(b.literal) - Number(a.literal));
    const route = candidates[0];
    expect(route, `${method} ${path} is documented`).to.not.equal(undefined);
    const answer = route!.operation.responses[String(res.status)];
    expect(answer, `${method} ${url} answered ${res.status}, which is not documented`).to.not.equal(undefined);
    const schema = answer!.content?.['application/json']?.schema;
    if (!schema) return;
    const validateBody = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')));
    expect(validateBody(res.body), `${method} ${url} → ${res.status}: ${JSON.stringify(validateBody.errors)}`).to.equal(true);
  };
}
