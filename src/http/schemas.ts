/**
 * The JSON API's contract as zod schemas: the same schema validates a request and describes it in
 * the OpenAPI document at /api/openapi.json (src/http/openapi.ts). Services keep their own checks;
 * a schema is the documented shape, and a request that does not fit it is refused before the
 * handler runs with the API's usual error body (an amount field → `invalid_amount`, anything else
 * → `invalid_request`).
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
import { AppError } from '../core/errors.ts';
import { parseAmount } from '../core/money.ts';

/** Schemas (by their def, which .describe()/.meta() clones share) whose failures are `invalid_amount`. */
const amountDefs = new WeakSet<object>();

/** A decimal string in the currency's major unit, at most six decimals: "5.00", "0.000001". */
export const Amount = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,12})(\.[0-9]{1,6})?$/)
  .meta({
    id: 'Amount',
    description:
      'A non-negative decimal string in the major unit with at most six decimals, e.g. "5.00" or "0.000001". A JSON number is refused with invalid_amount.',
    examples: ['5.00'],
  });
amountDefs.add(Amount._zod.def);

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

interface ZodDefLike {
  type: string;
  shape?: Record<string, ZodSchema>;
  innerType?: ZodSchema;
  in?: ZodSchema;
  element?: ZodSchema;
}

/** Whether the schema found along `path` (or one wrapping it) is an Amount. */
function isAmountAt(schema: ZodSchema, path: PropertyKey[]): boolean {
  let current: ZodSchema | undefined = schema;
  let i = 0;
  for (let guard = 0; current && guard < 64; guard++) {
    const def = current._zod.def as unknown as ZodDefLike;
    if (amountDefs.has(def)) return i === path.length;
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else if (i < path.length && def.type === 'object' && def.shape) current = def.shape[String(path[i++])];
    else if (i < path.length && def.type === 'array' && def.element) {
      i++;
      current = def.element;
    } else return false;
  }
  return false;
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let value = data;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** The first problem of a failed request part as an AppError, worded like the services' own. */
export function requestError(schema: ZodSchema, error: z.ZodError, part: string, data: unknown): AppError {
  const issue = error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.map(String).join('.');
  if (issue.path.length > 0 && isAmountAt(schema, issue.path)) {
    try {
      parseAmount(valueAt(data, issue.path), field);
    } catch (amountError) {
      if (amountError instanceof AppError) return amountError;
    }
    return new AppError('invalid_amount', `${field} ${issue.message}`);
  }
  if (issue.path.length === 0) {
    const what = part === 'body' ? 'the body' : part === 'querystring' ? 'the query' : `the ${part}`;
    const message = issue.code === 'invalid_type' ? `${what} must be a JSON object` : `${what}: ${issue.message}`;
    return new AppError('invalid_request', message);
  }
  const where = part === 'querystring' ? `?${field}` : part === 'params' ? `{${field}} in the path` : field;
  const message = issue.code === 'invalid_type' && issue.input === undefined ? `${where} is required` : `${where}: ${issue.message}`;
  return new AppError('invalid_request', message, { field });
}

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
  return { error: requestError(schema, result.error, httpPart, data) };
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
