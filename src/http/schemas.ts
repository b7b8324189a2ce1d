/**
 * The JSON API's contract as zod schemas: the same schema validates a request and describes it in
 * the OpenAPI document at /api/openapi.json (src/http/openapi.ts). A request that does not fit it
 * is refused before the handler runs with the API's usual error body (an amount field →
 * `invalid_amount`, a service rule's refusal as the rule words it, anything else →
 * `invalid_request`; src/core/input.ts' requestError).
 *
 * A body a page form also sends is described once, by an input schema both import (src/core/input.ts
 * and next to its service: BudgetInput, DepositInput, ThingInput, ProfileInput, …): it parses as
 * well as checks (an amount becomes a bigint, a title is tidied), so the service takes typed input,
 * and the page parses its form with the same schema (src/web/forms.ts' formInput).
 *
 * How a route declares its schema (every route under /api/v1 must; test/integration/openapi.test.ts
 * fails otherwise) and who may call it (every route under /api/v1 must; the app does not start
 * otherwise):
 *
 *   import type { ZodTypeProvider } from 'fastify-type-provider-zod';
 *   import { z } from 'zod';
 *   import { callerOf } from './auth.ts';
 *   import { Amount, Thing, errors } from './schemas.ts';
 *
 *   const api = app.withTypeProvider<ZodTypeProvider>();
 *   api.post('/api/v1/things', {
 *     config: { access: 'things' },             // the OAuth scope it needs (read | flattr | things | account | admin) or 'public'
 *     schema: {
 *       tags: ['things'],                       // a tag of API_TAGS in src/http/openapi.ts (add yours there)
 *       summary: 'Register a thing the caller owns',
 *       body: z.object({ url: z.string(), title: z.string().optional() }),
 *       response: { 201: Thing, ...errors(400, 401, 409) },
 *     },
 *   }, async (request, reply) => {
 *     const caller = callerOf(request);         // already checked: 401/403 came before any 400
 *     … request.body.url is typed …
 *   });
 *
 * - `config.access` (src/http/auth.ts) is the only place the route says who may call it: the
 *   OpenAPI `security`, the token and scope check and the caller all come from it. Do not write
 *   `security` in the schema.
 * - `body`, `querystring`, `params`: z.object(...) of what the route reads; unknown keys are dropped.
 *   Querystring values are strings (no coercion): use `z.string()`, `Period`, `z.enum([...])`.
 * - `response`: one schema per status; `errors(...)` adds the Error body for the listed statuses.
 *   Responses are checked against the schema outside production (a mismatch is a 500; in production
 *   they are only serialized) and sent as the handler made them: a field missing from the schema is
 *   not dropped, so keep the schema complete.
 * - Reuse Amount, Period, Thing, Id and ErrorBody from here; a schema registered with
 *   `.meta({ id })` appears once under components.schemas and is referenced by $ref.
 */
import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { z } from 'zod';
import { Amount, requestError } from '../core/input.ts';

/** A decimal string in the currency's major unit (src/core/input.ts, shared with the page forms). */
export { Amount };

/** A month, YYYY-MM. */
export const Period = z
  .string()
  .regex(/^[0-9]{4}-(0[1-9]|1[0-2])$/, 'must be a month written YYYY-MM')
  .meta({ id: 'Period', description: 'A month written YYYY-MM.', examples: ['2026-11'] });

/** Identifiers are opaque strings (UUIDs or decimal integers, by kind). */
export const Id = z.string().min(1).max(100);

export const Thing = z
  .object({
    id: z.string(),
    url: z.string().describe('What was flattred.'),
    title: z.string().nullable(),
    owner: z.object({
      actor: z.string().describe("The owner's ActivityPub actor."),
      username: z.string().optional().describe('For a member of this instance.'),
      handle: z.string().optional().describe('@name@host, when known, for a remote owner.'),
    }),
    uri: z.string().describe("The thing's own IRI on its home instance."),
    verified: z.boolean().describe('Its content names its owner; false: it names nobody (or could not be read).'),
  })
  .meta({ id: 'Thing', description: 'A flattrable thing.' });

export const ErrorBody = z
  .object({
    error: z.looseObject({
      code: z.string().describe('A code from the API contract, e.g. invalid_request, invalid_amount, unauthorized, forbidden, not_found, rate_limited.'),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error', description: 'Every error: an HTTP status and this body. Some codes add fields (flattr_once adds existing_id).' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request does not fit: invalid_request, invalid_amount (an amount field) or a rule such as budget_out_of_range.',
  401: 'unauthorized: no bearer token, or not a valid one.',
  402: 'no_means: the wallet does not cover the budget.',
  403: 'forbidden (or invite_required, registration_closed).',
  404: 'not_found.',
  409: 'A conflict; the code says which (e.g. flattr_once with existing_id, period_open, period_closed).',
  413: 'payload_too_large.',
  415: 'unsupported_media_type: the API speaks JSON (an avatar upload: a PNG, JPEG, WebP or GIF).',
  422: 'A request that fits but cannot be done; the code says why (e.g. invalid_image).',
  429: 'rate_limited: try again after Retry-After seconds.',
};

type ErrorResponse = { description: string; content: { 'application/json': { schema: typeof ErrorBody } } };

/** The Error body for each listed status, for `response: { 200: X, ...errors(400, 401) }`. */
export function errors<S extends number>(...statuses: S[]): Record<S, ErrorResponse> {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s] ?? 'An error.', content: { 'application/json': { schema: ErrorBody } } }]),
  ) as Record<S, ErrorResponse>;
}

// ---- compilers: zod instead of ajv, errors in the API's shape -------------------------------------

type ZodSchema = z.ZodType;

export { requestError };

/** Fastify's validatorCompiler, with zod: the parsed value replaces the part, errors are AppErrors. */
export const validatorCompiler: FastifySchemaCompiler<ZodSchema> = ({ schema, httpPart, method, url }) => {
  if (!isZod(schema)) throw new Error(`${method} ${url}: the ${httpPart} schema must be a zod schema (see src/http/schemas.ts)`);
  return (data) => validate(schema, httpPart ?? 'body', data);
};

function isZod(schema: unknown): schema is ZodSchema {
  return typeof (schema as ZodSchema | undefined)?.safeParse === 'function';
}

function validate(schema: ZodSchema, httpPart: string, data: unknown) {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return { value: result.data };
  return { error: requestError(schema, result.error, httpPart, data, true) };
}

/**
 * Fastify's serializerCompiler: checks the answer against its schema and sends it unchanged
 * (never stripped). A mismatch is a bug of ours: a 500 outside production; production only serializes.
 */
export function serializerCompiler(options: { production: boolean }): FastifySerializerCompiler<ZodSchema> {
  return ({ schema, method, url }) =>
    (data) => {
      // In production an answer is only serialized: the schemas are checked by every test (and in
      // development), and a click should not pay for checking its own answer.
      if (!isZod(schema) || options.production) return JSON.stringify(data);
      const result = schema.safeParse(data);
      if (!result.success) {
        throw new Error(`the answer of ${method} ${url} does not match its schema: ${JSON.stringify(result.error.issues.slice(0, 5))}`);
      }
      return JSON.stringify(data);
    };
}
