/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the exact text that settlement statements are
 * hashed and signed over. json-canon does the serialization (properties sorted by UTF-16 code
 * units, ECMAScript number formatting, minimal string escaping, lone surrogates refused).
 *
 * This wrapper first checks that the value is plain JSON of the kind statements contain, because
 * json-canon is lenient where a signature must not be:
 * - it calls `toJSON` (a Date would be signed as whatever `toJSON` returns) and writes a Map or a
 *   class instance as `{}`;
 * - `undefined` becomes `null` inside arrays, and an `undefined` first property yields `{,...`;
 * - it accepts every double, yet JCS numbers *are* doubles: 2^53 + 1 would be signed as 2^53.
 * Statements carry amounts as integer strings, so the only numbers left (version, sequence,
 * scale, line numbers, counts) must be safe integers; any other number is refused.
 */
import serialize from 'json-canon';

/** Deep enough for any statement (depth 4) and shallow enough that hostile nesting cannot overflow the stack. */
const MAX_DEPTH = 32;

export class CanonicalJsonError extends Error {
  /** Where the offending value is, e.g. `$.lines[3].amount`. */
  readonly path: string;

  constructor(message: string, path: string) {
    super(`${message} at ${path}`);
    this.name = 'CanonicalJsonError';
    this.path = path;
  }
}

/** The RFC 8785 canonical form of `value`; throws CanonicalJsonError for anything that is not plain, integer-only JSON. */
export function canonicalize(value: unknown): string {
  assertPlainJson(value, []);
  return serialize(value);
}

// The trail of keys is kept in one array (push/pop) so that walking a statement of a million
// lines costs no string building unless something is wrong.
function assertPlainJson(value: unknown, trail: Array<string | number>): void {
  if (trail.length > MAX_DEPTH) throw new CanonicalJsonError(`nesting deeper than ${MAX_DEPTH}`, pathOf(trail));
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw new CanonicalJsonError('a string with a lone surrogate', pathOf(trail));
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalJsonError(`the number ${value} (only safe integers; amounts travel as integer strings)`, pathOf(trail));
      }
      return;
    case 'bigint':
      throw new CanonicalJsonError('a bigint (write amounts as integer strings)', pathOf(trail));
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`${typeof value}, which is not JSON`, pathOf(trail));
  }
  if (value === null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      trail.push(i);
      assertPlainJson(value[i], trail);
      trail.pop();
    }
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`a ${proto?.constructor?.name ?? 'non-plain'} object, which is not JSON`, pathOf(trail));
  }
  for (const key of Object.keys(value)) {
    trail.push(key);
    if (!key.isWellFormed()) throw new CanonicalJsonError('a property name with a lone surrogate', pathOf(trail));
    assertPlainJson((value as Record<string, unknown>)[key], trail);
    trail.pop();
  }
}

function pathOf(trail: Array<string | number>): string {
  return `$${trail.map((k) => (typeof k === 'number' ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)).join('')}`;
}
