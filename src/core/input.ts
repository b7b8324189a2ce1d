/**
 * Input schemas shared by the JSON API (src/http/) and the page forms (src/web/): the rule for a
 * field lives once, here or next to the service that takes it (budgets/service.ts' BudgetInput,
 * wallet/service.ts' DepositInput, …), and a service receives what its schema parsed (a bigint
 * amount, a trimmed string) instead of `unknown`.
 *
 * A failed parse becomes an AppError in one place, requestError below: an amount field →
 * `invalid_amount` worded by parseAmount; a `rule()` refusal → the AppError the rule threw,
 * unchanged (its code, message and details.field); anything else → `invalid_request` naming the
 * field. The API answers it in its error body (src/http/schemas.ts' validatorCompiler), a page
 * shows it next to its field (src/web/forms.ts' formInput), the CLI prints it (parseInput).
 */
import { z } from 'zod';
import { AppError, isAppError } from './errors.ts';
import { parseAmount } from './money.ts';
import { textProblem } from './text.ts';

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

/** Schemas (by their def, which .describe()/.meta() clones share) whose failures are `invalid_amount`. */
const amountDefs = new WeakSet<object>();
amountDefs.add(Amount._zod.def);

/**
 * A custom issue that carries the AppError a rule refused with; requestError answers it as it is
 * (on the API, `field: apiWords` instead when the rule has API words of its own: see rule()).
 */
function refusal(ctx: z.core.$RefinementCtx, input: unknown, error: AppError, apiWords?: string): typeof z.NEVER {
  ctx.issues.push({ code: 'custom', message: error.message, input, params: apiWords === undefined ? { error } : { error, apiWords } });
  return z.NEVER;
}

/** The AppError a `rule()` refused with, when the issue is one. */
export function refusalOf(issue: z.core.$ZodIssue): AppError | undefined {
  const error = issue.code === 'custom' ? issue.params?.error : undefined;
  return isAppError(error) ? error : undefined;
}

/** An Amount, parsed to micro-units. */
export const AmountMicros = Amount.transform((value, ctx) => {
  try {
    return parseAmount(value);
  } catch (error) {
    if (isAppError(error)) return refusal(ctx, value, error);
    throw error;
  }
});

/** An Amount greater than zero, in micro-units (the refusal reads "amount must be greater than zero"). */
export const PositiveAmountMicros = AmountMicros.refine((micros) => micros > 0n, 'must be greater than zero');

/**
 * A field whose rule is a function that returns the checked value or throws an AppError (the
 * services' own checks, e.g. checkDisplayName): the schema runs it, and its refusal reaches the
 * caller with the same code, message and details.field as before.
 *
 * Text is first checked as the input guard (src/http/input-guard.ts) checks it, with its words
 * ("title contains the control character U+000D"): the guard sees the parsed body, in which a
 * rule may have tidied a CR/LF away, so the rule refuses it first. `multiline`: the field may
 * hold tab, CR and LF (the route's `config.multiline` names it too).
 *
 * `apiWords`: a rule the API checked with a zod check of its own before the rule was shared (the
 * username and password of sign-up). Its refusal keeps the API's words there, `field: apiWords`
 * (requestError's form for a check), while a page and the CLI show the rule's AppError; and, as
 * then, the rule is checked before the text (its check must return the value unchanged, so the
 * input guard sees what was sent).
 */
export function rule<In extends z.ZodType, Out>(base: In, check: (value: z.output<In>) => Out, options: { multiline?: boolean; apiWords?: string } = {}) {
  return base.transform((value, ctx): Out => {
    const textIssue = () => {
      const problem = typeof value === 'string' ? textProblem(value, options.multiline) : undefined;
      if (problem) ctx.issues.push({ code: 'custom', message: problem, input: value, params: { text: problem } });
      return problem !== undefined;
    };
    if (options.apiWords === undefined && textIssue()) return z.NEVER;
    let checked: Out;
    try {
      checked = check(value);
    } catch (error) {
      if (isAppError(error)) return refusal(ctx, value, error, options.apiWords);
      throw error;
    }
    return options.apiWords !== undefined && textIssue() ? z.NEVER : checked;
  });
}

// ---- a failed parse as an AppError ---------------------------------------------------------------

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

/**
 * The first problem of a failed request part as an AppError, worded like the services' own.
 * `api`: for the JSON API (src/http/schemas.ts), where a rule with `apiWords` keeps them.
 */
export function requestError(schema: ZodSchema, error: z.ZodError, part: string, data: unknown, api = false): AppError {
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
  const refused = refusalOf(issue);
  const apiWords = issue.code === 'custom' ? issue.params?.apiWords : undefined;
  if (refused && api && typeof apiWords === 'string') return new AppError(refused.code, `${field}: ${apiWords}`, refused.details);
  if (refused) return refused;
  const text = issue.code === 'custom' ? issue.params?.text : undefined;
  if (typeof text === 'string' && issue.path.length > 0) {
    const where = part === 'querystring' ? `?${field}` : part === 'params' ? `{${field}} in the path` : field;
    return new AppError('invalid_request', `${where} ${text}`, { field });
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

/** `data` as `schema` parses it; else the AppError requestError makes of the first problem. */
export function parseInput<S extends z.ZodType>(schema: S, data: unknown, part = 'body'): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  throw requestError(schema, result.error, part, data);
}
