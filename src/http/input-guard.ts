/**
 * The one boundary every request's text passes before a handler sees it: bodies, query strings
 * and path parameters, on the JSON API, the OAuth endpoints and the page forms alike. A string
 * (or an object key) with a control character (C0, DEL, C1) or a lone UTF-16 surrogate is refused
 * with 400 `invalid_request` naming the field. The database refuses NUL and a lone surrogate's
 * bytes (a 500 before this existed), a CR/LF could reach a response header, and no field of ours
 * needs either.
 *
 * Tab, CR and LF are allowed only in the multi-line fields a route names in its config
 * (`config: { multiline: ['redirect_uris'] }`); a body that is one string (XML, say) is multi-line
 * as a whole. Raw bodies (Buffers: the settlement inbox, signed bytes) are not text and not looked
 * at. The walk is iterative, so a deeply nested body cannot exhaust the stack.
 *
 * Installed once in buildApp as a preHandler: after authentication and the schema (so a caller
 * without a token still learns 401 first), before any handler and before the pages' CSRF check.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.ts';
import { textProblem } from '../core/text.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Top-level fields of this route's body that may hold tab, CR and LF (a list of URIs, say). */
    multiline?: readonly string[];
  }
}

type Part = 'body' | 'query' | 'params';

/** The field's name as the API's errors write it: `title`, `lines.0.reason`, `?period`, `{id} in the path`. */
function fieldLabel(part: Part, path: string): string {
  if (!path) return part === 'body' ? 'the body' : part === 'query' ? 'the query' : 'the path';
  if (part === 'query') return `?${path}`;
  if (part === 'params') return `{${path}} in the path`;
  return path;
}

/** Refuses the first bad string (value or key) in `value`; `multiline` names top-level fields that may hold lines. */
export function checkText(part: Part, value: unknown, multiline: readonly string[] = []): void {
  if (typeof value === 'string') {
    const problem = textProblem(value, part === 'body');
    if (problem) throw new AppError('invalid_request', `the body ${problem}`);
    return;
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Uint8Array) return;
  const stack: { value: unknown; path: string; lines: boolean }[] = [{ value, path: '', lines: false }];
  let visited = 0;
  while (stack.length > 0) {
    const { value: current, path, lines } = stack.pop() as { value: unknown; path: string; lines: boolean };
    // Bodies are at most 64 KB, so this bound is never reached by a real request; it keeps a
    // parser that hands over something larger from making this loop long.
    if (++visited > 100_000) throw new AppError('invalid_request', `the ${part === 'body' ? 'body' : part} has too many fields`);
    if (typeof current === 'string') {
      const problem = textProblem(current, lines);
      if (problem) throw new AppError('invalid_request', `${fieldLabel(part, path)} ${problem}`, { field: path });
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    for (const key of Object.keys(current)) {
      const childPath = path ? `${path}.${key}` : key;
      const keyProblem = textProblem(key);
      if (keyProblem) throw new AppError('invalid_request', `a field name in ${fieldLabel(part, path)} ${keyProblem}`, { field: path });
      stack.push({ value: (current as Record<string, unknown>)[key], path: childPath, lines: lines || (path === '' && multiline.includes(key)) });
    }
  }
}

/** The preHandler hook; see the file's comment. */
export function installInputGuard(app: FastifyInstance): void {
  app.addHook('preHandler', async (request: FastifyRequest) => {
    checkText('params', request.params);
    checkText('query', request.query);
    checkText('body', request.body, request.routeOptions.config?.multiline ?? []);
  });
}
