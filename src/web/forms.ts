/**
 * A page form's body, parsed by the same schema the JSON API validates that input with (the shared
 * input schemas: src/core/input.ts and the services' own, e.g. budgets/service.ts' BudgetInput).
 * A body that does not fit throws the AppError the API would answer (src/core/input.ts'
 * requestError: code, message and details.field), so the page's try/catch shows it next to its
 * field with formError, as it shows a service's refusal.
 */
import type { z } from 'zod';
import { parseInput } from '../core/input.ts';

/** The form's fields as its schema parses them; fields the schema does not name (`_csrf`) are dropped. */
export function formInput<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  return parseInput(schema, body ?? {});
}

/**
 * The named fields of a posted form as text, to fill the form in again after a refusal: a string
 * value is kept (cut to `max` characters), anything else (absent, repeated into an array, a
 * file) is undefined. It checks nothing: what a service receives comes from formInput.
 */
export function formValues<K extends string>(body: unknown, names: readonly K[], max = 1000): Record<K, string | undefined> {
  const out = {} as Record<K, string | undefined>;
  const fields = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  for (const name of names) {
    const value = Object.hasOwn(fields, name) ? fields[name] : undefined;
    out[name] = typeof value === 'string' ? value.slice(0, max) : undefined;
  }
  return out;
}
