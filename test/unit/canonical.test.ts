import fc from 'fast-check';
import t from 'tap';
import { CanonicalJsonError, canonicalize } from '../../src/settlement/canonical.ts';

t.test('properties are sorted by UTF-16 code units (the example of RFC 8785 section 3.2.3)', async (t) => {
  const input = {
    '\u20ac': 'Euro Sign',
    '\r': 'Carriage Return',
    '\ufb33': 'Hebrew Letter Dalet With Dagesh',
    '1': 'One',
    '\ud83d\ude00': 'Emoji: Grinning Face',
    '\u0080': 'Control',
    '\u00f6': 'Latin Small Letter O With Diaeresis',
  };
  // (compared as text: JSON.parse would enumerate the integer-like key "1" first)
  t.equal(
    canonicalize(input),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
});

t.test('strings and literals are written as RFC 8785 section 3.2.2 says', async (t) => {
  const input = { string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/', literals: [null, true, false] };
  t.equal(canonicalize(input), '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  t.equal(canonicalize({ b: [1, { d: 0, c: -0 }], a: 'x' }), '{"a":"x","b":[1,{"c":0,"d":0}]}', 'nested, -0 is 0');
  t.equal(canonicalize({ n: Number.MAX_SAFE_INTEGER }), '{"n":9007199254740991}');
});

t.test('anything that is not plain, integer-only JSON is refused', async (t) => {
  const refused: Array<[string, unknown]> = [
    ['a fraction', { amount: 4.5 }],
    ['an unsafe integer', { sequence: 2 ** 53 }],
    ['NaN', [Number.NaN]],
    ['a bigint', { amount: 5n }],
    ['undefined in an object', { a: undefined, b: 1 }],
    ['undefined in an array', [1, undefined]],
    ['a hole in an array', [1, undefined, 3]],
    ['a Date', { issuedAt: new Date(0) }],
    ['a Map', new Map([['a', 1]])],
    ['a function', { f: () => 1 }],
    ['a lone surrogate', { s: '\ud800' }],
    ['a lone surrogate in a key', { '\udc00': 1 }],
    ['deep nesting', JSON.parse('['.repeat(100) + ']'.repeat(100))],
  ];
  for (const [what, value] of refused) t.throws(() => canonicalize(value), CanonicalJsonError, what);
  const error = (() => {
    try {
      canonicalize({ lines: [{ amount: '1' }, { amount: 0.5 }] });
    } catch (e) {
      return e;
    }
  })();
  t.equal(error instanceof CanonicalJsonError && error.path, '$.lines[1].amount', 'says where');
  t.equal(canonicalize(Object.assign(Object.create(null), { a: 1 })), '{"a":1}', 'a null-prototype object is plain');
});

t.test('canonical text parses back to the same value and is a fixed point', async (t) => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      fc.string({ unit: 'binary' }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 4 }),
    ),
  })).value;
  fc.assert(
    fc.property(json, (value) => {
      const text = canonicalize(value);
      const back = JSON.parse(text);
      return canonicalize(back) === text && JSON.stringify(sortDeep(back)) === JSON.stringify(sortDeep(value));
    }),
  );
  t.pass('checked by fast-check');
});

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortDeep((value as Record<string, unknown>)[k])]),
    );
  }
  return Object.is(value, -0) ? 0 : value;
}
