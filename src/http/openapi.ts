/**
 * The OpenAPI 3.1 document of the JSON API, made by @fastify/swagger from the routes' zod schemas
 * (src/http/schemas.ts) through fastify-type-provider-zod's transforms, served at
 * GET /api/openapi.json; and GET /api/docs, a page of our own that lists every operation from the
 * same document: static HTML, no JavaScript, no external assets, a CSP that allows only its one
 * inline stylesheet (by hash).
 *
 * Only /api/v1/** and /healthz are documented; pages, embeds and federation paths are not JSON API.
 */
import { createHash } from 'node:crypto';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { Context } from '../context.ts';

/** Whether a route belongs to the documented JSON API. */
export function isDocumentedPath(url: string): boolean {
  return url.startsWith('/api/v1/') || url === '/healthz';
}

export const API_TAGS = [
  { name: 'accounts', description: 'Sign up and API tokens.' },
  { name: 'me', description: "The caller's account: profile, budget, invites." },
  { name: 'things', description: 'Things to flattr.' },
  { name: 'flattrs', description: 'Flattrs given.' },
  { name: 'reports', description: "A month's flattrs, earnings, ledger and incoming flattrs; CSV with ?format=csv." },
  { name: 'wallet', description: 'Payouts.' },
  { name: 'admin', description: 'Instance administration (admins only).' },
  { name: 'settlement', description: 'Statements between instances, settlements and peers (admins only).' },
  { name: 'subscriptions', description: 'Flattr a thing again each month.' },
  { name: 'webhooks', description: 'Signed deliveries of events: flattr.received, period.closed, payout.paid, subscription.stopped.' },
  { name: 'instance', description: 'Health.' },
];

/**
 * How zod schemas become JSON Schema here: answers do not promise `additionalProperties: false`
 * (zod's default for output objects), so clients stay tolerant of fields added later; an empty
 * answer (z.undefined()) is `null`; unrepresentable members of a union are dropped.
 */
const zodToJsonConfig = {
  override: (ctx: { zodSchema: { _zod: { def: { type: string; catchall?: unknown } } }; jsonSchema: Record<string, unknown> }) => {
    const def = ctx.zodSchema._zod.def;
    const json = ctx.jsonSchema;
    if (def.type === 'object' && def.catchall === undefined && json.additionalProperties === false) delete json.additionalProperties;
    if (def.type === 'undefined') json.type = 'null';
    if (def.type === 'union' && Array.isArray(json.anyOf)) json.anyOf = json.anyOf.filter((member: object) => Object.keys(member).length > 0);
  },
} as unknown as Parameters<typeof createJsonSchemaTransform>[0]['zodToJsonConfig'];

const jsonSchemaTransform = createJsonSchemaTransform({ zodToJsonConfig });
const jsonSchemaTransformObject = createJsonSchemaTransformObject({ zodToJsonConfig });

const SUCCESS: Record<string, string> = { 200: 'OK.', 201: 'Created.', 202: 'Accepted.', 204: 'No content.' };

/** Registers @fastify/swagger; must run before the API's routes are added (it collects them). */
export async function installOpenApi(app: FastifyInstance, ctx: Context): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Farthing API',
        version: '1',
        description:
          'The JSON API of a Farthing instance. Amounts are decimal strings ("5.00"); errors are {"error": {"code", "message"}}; ' +
          'periods are YYYY-MM. Authenticate with Authorization: Bearer <token>.',
      },
      servers: [{ url: ctx.config.origin }],
      tags: API_TAGS,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from POST /api/v1/tokens (or an OAuth access token).' } },
      },
    },
    transform: (input) => {
      if (!isDocumentedPath(input.url)) return { schema: { hide: true } as never, url: input.url };
      const result = jsonSchemaTransform(input);
      // an answer without a description of its own says what its status means (not "Default Response")
      for (const [status, answer] of Object.entries((result.schema as { response?: Record<string, Record<string, unknown>> } | undefined)?.response ?? {})) {
        if (answer && typeof answer === 'object' && !answer.description) answer.description = SUCCESS[status] ?? 'The answer.';
      }
      return result;
    },
    transformObject: jsonSchemaTransformObject,
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'no-cache').type('application/json; charset=utf-8').send(JSON.stringify(app.swagger())),
  );

  let page: { html: string; csp: string } | undefined;
  app.get('/api/docs', { schema: { hide: true } }, async (_request, reply) => {
    page ??= docsPage(app.swagger() as unknown as OpenApiDocument);
    return reply
      .header('content-security-policy', page.csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(page.html);
  });
}

// ---- the docs page ------------------------------------------------------------------------------

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown; description?: string }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}

export interface OpenApiDocument {
  info: { title: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}
.op{margin:.6rem 0;padding:.4rem .6rem;border:1px solid #ddd;border-radius:4px}
.m{display:inline-block;min-width:4.2rem;font:bold 13px monospace;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.put{color:#a60}.delete{color:#c22}.patch{color:#84c}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
.lock{font-size:12px;color:#555;margin-left:.5rem}summary{cursor:pointer}`;

function escapeEntities(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function json(value: unknown): string {
  return escapeEntities(JSON.stringify(value, null, 2));
}

/** The whole page, built once from the document. */
export function docsPage(doc: OpenApiDocument): { html: string; csp: string } {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'other';
      const secured = (op.security ?? []).length > 0;
      const params = (op.parameters ?? [])
        .map(
          (p) =>
            `<li><code>${escapeEntities(p.in === 'query' ? `?${p.name}` : `{${p.name}}`)}</code>${p.required ? ' (required)' : ''}${p.description ? ` ${escapeEntities(p.description)}` : ''}</li>`,
        )
        .join('');
      const body = op.requestBody?.content?.['application/json']?.schema;
      const responses = Object.entries(op.responses ?? {})
        .map(([status, r]) => {
          const types = Object.keys(r.content ?? {});
          const schema = r.content?.['application/json']?.schema;
          return `<li><code>${escapeEntities(status)}</code> ${escapeEntities(r.description ?? '')}${types.length ? ` <small>${escapeEntities(types.join(', '))}</small>` : ''}${
            schema ? `<details><summary>schema</summary><pre>${json(schema)}</pre></details>` : ''
          }</li>`;
        })
        .join('');
      const html = `<div class="op" id="${escapeEntities(`${method}-${path}`)}"><span class="m ${escapeEntities(method)}">${escapeEntities(method)}</span><code>${escapeEntities(path)}</code>${
        secured ? '<span class="lock">bearer token</span>' : ''
      }<div>${escapeEntities(op.summary ?? '')}</div>${op.description ? `<p>${escapeEntities(op.description)}</p>` : ''}${
        params ? `<ul>${params}</ul>` : ''
      }${body ? `<details><summary>request body</summary><pre>${json(body)}</pre></details>` : ''}<details><summary>responses</summary><ul>${responses}</ul></details></div>`;
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const tagOrder = [...(doc.tags ?? []).map((t) => t.name), ...[...byTag.keys()].filter((k) => !(doc.tags ?? []).some((t) => t.name === k))];
  const sections = tagOrder
    .filter((name) => byTag.has(name))
    .map((name) => {
      const description = doc.tags?.find((t) => t.name === name)?.description;
      return `<h2 id="tag-${escapeEntities(name)}">${escapeEntities(name)}</h2>${description ? `<p>${escapeEntities(description)}</p>` : ''}${(byTag.get(name) ?? []).join('')}`;
    })
    .join('');
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(
      ([name, schema]) =>
        `<details id="schema-${escapeEntities(name)}"><summary><code>${escapeEntities(name)}</code></summary><pre>${json(schema)}</pre></details>`,
    )
    .join('');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeEntities(doc.info.title)}</title><style>${STYLE}</style></head><body>
<h1>${escapeEntities(doc.info.title)}</h1><p>${escapeEntities(doc.info.description ?? '')}</p>
<p>The machine-readable document: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>
<nav><ul>${tagOrder
    .filter((n) => byTag.has(n))
    .map((n) => `<li><a href="#tag-${escapeEntities(n)}">${escapeEntities(n)}</a></li>`)
    .join('')}</ul></nav>
${sections}<h2 id="schemas">schemas</h2>${schemas}</body></html>`;
  const styleHash = createHash('sha256').update(STYLE).digest('base64');
  const csp = `default-src 'none'; style-src 'sha256-${styleHash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  return { html, csp };
}
