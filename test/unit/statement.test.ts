import fc from 'fast-check';
import t from 'tap';
import type { Period } from '../../src/core/period.ts';
import { canonicalize } from '../../src/settlement/canonical.ts';
import { compareByCodePoint, flattrSetDigest, referenceTo, sha256Digest, statementDigest } from '../../src/settlement/digest.ts';
import { createProof } from '../../src/settlement/eddsa-jcs-2022.ts';
import {
  buildStatement,
  type CreatorShares,
  type SignedStatement,
  type Statement,
  StatementError,
  type StatementInput,
  signStatement,
} from '../../src/settlement/statement.ts';
import { checkChain, type StatementReasonCode, verifyStatement } from '../../src/settlement/statement-check.ts';
import { parseSignedStatement } from '../../src/settlement/statement-schema.ts';

const A = 'https://a.example';
const B = 'https://b.example';
const KEY_ID = `${A}/actor#main-key`;
const keys = await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']);
const signer = { privateKey: keys.privateKey, verificationMethod: KEY_ID };

const CREATORS: CreatorShares[] = [
  { creator: `${B}/users/yuki`, flattrIds: [`${A}/flattrs/3`, `${A}/flattrs/1`], amountMicros: 900_000n },
  { creator: `${B}/users/ada`, flattrIds: [`${A}/flattrs/2`], amountMicros: 450_000n },
  { creator: `${B}/users/max`, flattrIds: [`${A}/flattrs/4`, `${A}/flattrs/5`, `${A}/flattrs/6`], amountMicros: 1n },
];

function input(overrides: Partial<StatementInput> = {}): StatementInput {
  return {
    id: `${A}/settlement/statements/1`,
    issuer: `${A}/actor`,
    counterparty: `${B}/actor`,
    sequence: 1,
    previous: null,
    period: '2026-11' as Period,
    currency: 'EUR',
    issuedAt: new Date('2026-12-01T00:10:00Z'),
    creators: CREATORS,
    ...overrides,
  };
}

const signedAt = new Date('2026-12-01T00:10:01Z');
const sign = (statement: Statement): Promise<SignedStatement> => signStatement(statement, signer, signedAt);

/** As the counterparty sees it: JSON over the wire, shape check, verification. */
async function receive(doc: unknown, expectedVerificationMethod?: string) {
  const parsed = parseSignedStatement(JSON.parse(JSON.stringify(doc)));
  return verifyStatement(parsed, { publicKey: keys.publicKey, ...(expectedVerificationMethod ? { expectedVerificationMethod } : {}) });
}

async function reasonCodes(doc: unknown, expectedVerificationMethod?: string): Promise<StatementReasonCode[]> {
  const result = await receive(doc, expectedVerificationMethod);
  return result.ok ? [] : result.reasons.map((r) => r.code);
}

/** A mutable deep copy, to tamper with. */
function copy(signed: SignedStatement): any {
  return structuredClone(signed);
}

t.test('a statement has one line per creator, sorted, numbered, and an exact summary', async (t) => {
  const statement = buildStatement(input());
  t.same(
    statement.lines.map((l) => [l.n, l.creator, l.flattrCount, l.amount]),
    [
      [1, `${B}/users/ada`, 1, '450000'],
      [2, `${B}/users/max`, 3, '1'],
      [3, `${B}/users/yuki`, 2, '900000'],
    ],
  );
  t.same(statement.summary, { lineCount: 3, flattrCount: 6, total: '1350001' });
  t.equal(statement.lines[2]?.flattrSetDigest, flattrSetDigest([`${A}/flattrs/1`, `${A}/flattrs/3`]));
  t.match(statement, { type: 'FlattrStatement', version: 1, scale: 6, previous: null, issuedAt: '2026-12-01T00:10:00.000Z' });

  const empty = buildStatement(input({ creators: [] }));
  t.same(empty.summary, { lineCount: 0, flattrCount: 0, total: '0' }, 'an empty statement is still issued');
});

t.test('building refuses inconsistent input', async (t) => {
  const refusals: Array<[string, Partial<StatementInput>, StatementReasonCode]> = [
    ['a creator twice', { creators: [CREATORS[0]!, { ...CREATORS[1]!, creator: CREATORS[0]!.creator }] }, 'duplicate_creator'],
    ['a line without flattrs', { creators: [{ ...CREATORS[0]!, flattrIds: [] }] }, 'flattr_count_invalid'],
    ['a negative amount', { creators: [{ ...CREATORS[0]!, amountMicros: -1n }] }, 'amount_not_integer'],
    ['an amount no wallet holds', { creators: [{ ...CREATORS[0]!, amountMicros: 10n ** 19n }] }, 'amount_too_large'],
    ['a creator that is no IRI', { creators: [{ ...CREATORS[0]!, creator: 'yuki@b.example' }] }, 'creator_invalid'],
    ['an IRI not in normal form', { counterparty: 'https://B.example/actor' }, 'counterparty_invalid'],
    ['a statement to oneself', { counterparty: `${A}/actor` }, 'counterparty_is_issuer'],
    ['an id on another origin', { id: `${B}/settlement/statements/1` }, 'id_not_on_issuer'],
    ['a first statement with a previous one', { previous: { id: `${A}/s/0`, digest: sha256Digest('') } }, 'previous_unexpected'],
    ['a later statement without one', { sequence: 2 }, 'previous_missing'],
    ['sequence 0', { sequence: 0 }, 'sequence_invalid'],
    ['a malformed period', { period: '2026-13' as Period }, 'period_malformed'],
    ['a malformed currency', { currency: 'eur' }, 'currency_malformed'],
  ];
  for (const [what, overrides, code] of refusals) {
    try {
      buildStatement(input(overrides));
      t.fail(`${what} should be refused`);
    } catch (error) {
      t.ok(error instanceof StatementError && error.reasons.some((r) => r.code === code), `${what}: ${code}`);
    }
  }
  t.throws(() => buildStatement(input({ creators: [{ ...CREATORS[0]!, flattrIds: ['x', 'x'] }] })), RangeError, 'a flattr twice in a line');
});

t.test('sign then verify round trip', async (t) => {
  const signed = await sign(buildStatement(input()));
  t.match(signed.proof, {
    type: 'DataIntegrityProof',
    cryptosuite: 'eddsa-jcs-2022',
    proofPurpose: 'assertionMethod',
    verificationMethod: KEY_ID,
    created: '2026-12-01T00:10:01.000Z',
    proofValue: /^z[1-9A-HJ-NP-Za-km-z]{80,90}$/,
  });
  const result = await receive(signed, KEY_ID);
  t.ok(result.ok, 'verifies');
  if (result.ok) t.same(result.statement, signed, 'and answers the statement');
  t.same(await reasonCodes(await sign(buildStatement(input({ creators: [] })))), [], 'an empty statement verifies');

  await t.rejects(signStatement(signed, signer, signedAt), TypeError, 'not signed twice');
  await t.rejects(
    signStatement(buildStatement(input()), { ...signer, verificationMethod: `${B}/actor#main-key` }, signedAt),
    StatementError,
    'not with a key of another origin',
  );
});

t.test('every tampered field is refused', async (t) => {
  const signed = await sign(buildStatement(input({ sequence: 2, previous: { id: `${A}/settlement/statements/0`, digest: sha256Digest('x') } })));
  const otherLine = { n: 4, creator: `${B}/users/zoe`, flattrCount: 1, flattrSetDigest: flattrSetDigest(['z']), amount: '5' };
  const tampering: Array<[string, (doc: any) => void, StatementReasonCode[]]> = [
    ['an amount', (d) => (d.lines[1].amount = '2'), ['summary_total', 'signature_invalid']],
    [
      'an amount and the total to match',
      (d) => {
        d.lines[1].amount = '2';
        d.summary.total = '1350002';
      },
      ['signature_invalid'],
    ],
    [
      'a flattr count',
      (d) => {
        d.lines[0].flattrCount = 2;
        d.summary.flattrCount = 7;
      },
      ['signature_invalid'],
    ],
    ['a flattr set digest', (d) => (d.lines[0].flattrSetDigest = flattrSetDigest(['other'])), ['signature_invalid']],
    ['a creator', (d) => (d.lines[0].creator = `${B}/users/aaa`), ['signature_invalid']],
    [
      'a line added',
      (d) => {
        d.lines.push(otherLine);
        d.summary = { lineCount: 4, flattrCount: 7, total: '1350006' };
      },
      ['signature_invalid'],
    ],
    ['a line removed', (d) => d.lines.pop(), ['summary_line_count', 'summary_flattr_count', 'summary_total', 'signature_invalid']],
    ['the summary total', (d) => (d.summary.total = '1350000'), ['summary_total', 'signature_invalid']],
    ['the summary line count', (d) => (d.summary.lineCount = 2), ['summary_line_count', 'signature_invalid']],
    ['the period', (d) => (d.period = '2026-10'), ['signature_invalid']],
    ['the currency', (d) => (d.currency = 'USD'), ['signature_invalid']],
    ['the sequence', (d) => (d.sequence = 3), ['signature_invalid']],
    ['the previous digest', (d) => (d.previous.digest = sha256Digest('y')), ['signature_invalid']],
    ['the previous id', (d) => (d.previous.id = `${A}/settlement/statements/9`), ['signature_invalid']],
    ['the issuer', (d) => (d.issuer = `${A}/other-actor`), ['signature_invalid']],
    ['the counterparty', (d) => (d.counterparty = 'https://c.example/actor'), ['signature_invalid']],
    ['the id', (d) => (d.id = `${A}/settlement/statements/2`), ['signature_invalid']],
    ['issuedAt', (d) => (d.issuedAt = '2026-12-01T00:10:00.001Z'), ['signature_invalid']],
    ['the scale', (d) => (d.scale = 2), ['scale_not_6', 'signature_invalid']],
    ['the proof value', (d) => (d.proof.proofValue = d.proof.proofValue.replace(/.$/, (c: string) => (c === '2' ? '3' : '2'))), ['signature_invalid']],
    ['the proof value encoding', (d) => (d.proof.proofValue = d.proof.proofValue.slice(1)), ['proof_value_malformed']],
    ['the proof time', (d) => (d.proof.created = '2026-12-01T00:10:02.000Z'), ['signature_invalid']],
    ['the proof purpose', (d) => (d.proof.proofPurpose = 'authentication'), ['wrong_proof_purpose', 'signature_invalid']],
    ['the cryptosuite', (d) => (d.proof.cryptosuite = 'eddsa-rdfc-2022'), ['wrong_cryptosuite']],
    ['the proof type', (d) => (d.proof.type = 'Ed25519Signature2020'), ['wrong_proof_type']],
    ['the verification method', (d) => (d.proof.verificationMethod = `${A}/actor#other-key`), ['signature_invalid']],
    ['a key elsewhere', (d) => (d.proof.verificationMethod = `${B}/actor#main-key`), ['verification_method_not_on_issuer', 'signature_invalid']],
  ];
  for (const [what, tamper, expected] of tampering) {
    const doc = copy(signed);
    tamper(doc);
    t.same(await reasonCodes(doc), expected, what);
  }
  t.same(await reasonCodes(signed, `${A}/actor#other-key`), ['verification_method_unexpected'], 'a key the caller did not expect');
  const stranger = await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']);
  const parsed = parseSignedStatement(JSON.parse(JSON.stringify(signed)));
  t.match(await verifyStatement(parsed, { publicKey: stranger.publicKey }), { ok: false, reasons: [{ code: 'signature_invalid' }] }, 'another key');
});

t.test('content rules hold even when the issuer signed the nonsense', async (t) => {
  // A peer that signs whatever it likes: a valid proof over inconsistent content.
  const signRaw = async (doc: Record<string, unknown>): Promise<unknown> => {
    const proof = await createProof(
      doc,
      {
        type: 'DataIntegrityProof',
        cryptosuite: 'eddsa-jcs-2022',
        verificationMethod: KEY_ID,
        proofPurpose: 'assertionMethod',
        created: signedAt.toISOString(),
      },
      keys.privateKey,
    );
    return { ...doc, proof };
  };
  const base = structuredClone(buildStatement(input())) as any;
  const cases: Array<[string, (doc: any) => void, StatementReasonCode[]]> = [
    [
      'lines numbered from 0',
      (d) => {
        for (const [i, l] of d.lines.entries()) l.n = i;
      },
      ['line_numbering', 'line_numbering', 'line_numbering'],
    ],
    [
      'lines out of order',
      (d) =>
        ([d.lines[0], d.lines[1]] = [
          { ...d.lines[1], n: 1 },
          { ...d.lines[0], n: 2 },
        ]),
      ['lines_not_sorted'],
    ],
    ['a duplicate creator', (d) => (d.lines[1].creator = d.lines[0].creator), ['duplicate_creator']],
    ['a duplicate creator further down', (d) => (d.lines[2].creator = d.lines[0].creator), ['lines_not_sorted', 'duplicate_creator']],
    ['a decimal amount', (d) => (d.lines[0].amount = '0.45'), ['amount_not_integer']],
    ['a negative amount', (d) => (d.lines[0].amount = '-450000'), ['amount_not_integer']],
    ['a zero-padded amount', (d) => (d.lines[0].amount = '0450000'), ['amount_not_integer']],
    [
      'a zero flattr count',
      (d) => {
        d.lines[0].flattrCount = 0;
        d.summary.flattrCount = 5;
      },
      ['flattr_count_invalid'],
    ],
    ['a malformed digest', (d) => (d.lines[0].flattrSetDigest = 'sha-256=:abc:'), ['flattr_set_digest_malformed']],
    ['a wrong total', (d) => (d.summary.total = '1350002'), ['summary_total']],
    ['a total that is no integer', (d) => (d.summary.total = '1.350001'), ['summary_total']],
    ['a period that is no month', (d) => (d.period = '2026-11-01'), ['period_malformed']],
    ['scale 2', (d) => (d.scale = 2), ['scale_not_6']],
    ['version 2', (d) => (d.version = 2), ['wrong_version']],
    ['another type', (d) => (d.type = 'Invoice'), ['wrong_type']],
  ];
  for (const [what, tamper, expected] of cases) {
    const doc = structuredClone(base);
    tamper(doc);
    t.same(await reasonCodes(await signRaw(doc)), expected, what);
  }
  const result = await receive(await signRaw({ ...base, lines: base.lines.map((l: any) => ({ ...l, n: 7 })) }));
  t.match(result, { ok: false, reasons: [{ line: 1 }, { line: 2 }, { line: 3 }] }, 'line reasons name their line');
});

t.test('the shape is checked before anything else', async (t) => {
  const signed = await sign(buildStatement(input()));
  const refused: Array<[string, (doc: any) => void]> = [
    ['an amount as a JSON number', (d) => (d.lines[0].amount = 450000)],
    ['a total as a JSON number', (d) => (d.summary.total = 1350001)],
    ['a fractional count', (d) => (d.lines[0].flattrCount = 1.5)],
    ['a count no line has', (d) => (d.lines[0].flattrCount = 2 ** 31 + 1)],
    ['an unsafe sequence', (d) => (d.sequence = 2 ** 53)],
    ['an unknown property', (d) => (d.note = 'hello')],
    ['an unknown line property', (d) => (d.lines[0].memo = 'x')],
    ['a missing previous', (d) => delete d.previous],
    ['a missing proof', (d) => delete d.proof],
    ['an IRI too long', (d) => (d.lines[0].creator = `${B}/${'x'.repeat(3000)}`)],
  ];
  for (const [what, tamper] of refused) {
    const doc = copy(signed);
    tamper(doc);
    t.throws(() => parseSignedStatement(JSON.parse(JSON.stringify(doc))), { code: 'invalid_request' }, what);
  }
  t.throws(() => parseSignedStatement('{}'), { code: 'invalid_request' }, 'text is not a statement');
  t.throws(() => parseSignedStatement(null), { code: 'invalid_request' });
  const error = (() => {
    try {
      parseSignedStatement({ ...copy(signed), lines: [{ ...signed.lines[0], amount: 1 }] });
    } catch (e) {
      return e as Error;
    }
  })();
  t.match(error?.message, /\$\.lines\[0\]\.amount/, 'the error says where');
});

t.test('the chain: sequence, previous digest, same parties, no going back, no gap', async (t) => {
  const s1 = await sign(buildStatement(input({ period: '2026-10' as Period })));
  const next = (overrides: Partial<StatementInput> = {}) =>
    sign(buildStatement(input({ id: `${A}/settlement/statements/2`, sequence: 2, previous: referenceTo(s1), ...overrides })));
  const s2 = await next();
  const codes = (check: ReturnType<typeof checkChain>) => (check.ok ? [] : check.reasons.map((r) => r.code));

  t.same(codes(checkChain(s1, null)), [], 'the first statement needs no previous one');
  t.same(codes(checkChain(s2, s1)), [], 'the second follows the first');
  t.same(codes(checkChain(s2, null)), ['chain_previous_unknown'], 'a second statement whose first is unknown');
  t.same(codes(checkChain(await next({ period: '2026-10' as Period }), s1)), [], 'a correction repeats the period with the next sequence');
  t.same(codes(checkChain(await next({ sequence: 3 }), s1)), ['chain_sequence']);
  t.same(codes(checkChain(await next({ previous: { id: s1.id, digest: sha256Digest('x') } }), s1)), ['chain_previous_digest']);
  t.same(codes(checkChain(await next({ previous: { id: `${A}/settlement/statements/9`, digest: statementDigest(s1) } }), s1)), ['chain_previous_id']);
  t.same(codes(checkChain(await next({ counterparty: 'https://c.example/actor' }), s1)), ['chain_counterparty']);
  t.same(codes(checkChain(await next({ currency: 'CHF' }), s1)), ['chain_currency']);
  t.same(codes(checkChain(await next({ period: '2026-09' as Period }), s1)), ['chain_period_before_previous']);
  t.same(codes(checkChain(await next({ period: '2027-01' as Period }), s1)), ['chain_period_gap']);
  t.same(codes(checkChain(s2, s2)), ['chain_sequence', 'chain_previous_id', 'chain_previous_digest'], 'not itself');

  const s1Resigned = await signStatement(buildStatement(input({ period: '2026-10' as Period })), signer, new Date('2026-12-02T00:00:00Z'));
  t.same(codes(checkChain(s2, s1Resigned)), ['chain_previous_digest'], 'the digest covers the proof: a re-signed previous statement is another statement');
});

t.test('digests', async (t) => {
  t.equal(sha256Digest(''), 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:', 'SHA-256 of nothing');
  t.equal(flattrSetDigest(['b', 'a']), sha256Digest('a\nb'), 'sorted ids joined by newlines');
  t.equal(flattrSetDigest([]), sha256Digest(''));
  t.equal(flattrSetDigest(['\u{1F600}', '\uFB33']), sha256Digest('\uFB33\n\u{1F600}'), 'code point order, not UTF-16 order');
  for (const bad of [[''], ['a\nb'], ['\ud800'], ['a', 'a']]) t.throws(() => flattrSetDigest(bad), RangeError, JSON.stringify(bad));

  const signed = await sign(buildStatement(input()));
  t.equal(statementDigest(signed), sha256Digest(canonicalize(signed)), 'statementDigest is SHA-256 of the JCS of the signed document');
  t.equal(statementDigest(JSON.parse(JSON.stringify(signed, null, 2))), statementDigest(signed), 'independent of formatting');

  fc.assert(
    fc.property(fc.uniqueArray(fc.webUrl(), { minLength: 1, maxLength: 30 }), fc.integer(), (ids, seed) => {
      const shuffled = [...ids].sort((a, b) => hash(a, seed) - hash(b, seed) || compareByCodePoint(a, b));
      return flattrSetDigest(ids) === flattrSetDigest(shuffled);
    }),
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
      return Math.sign(compareByCodePoint(a, b)) === Buffer.compare(Buffer.from(a), Buffer.from(b));
    }),
    { numRuns: 2000 },
  );
  t.pass('order independence and code point order checked by fast-check');
});

t.test('for any lines: the summary equals the lines, and what is signed verifies', async (t) => {
  const creatorShares = fc.uniqueArray(
    fc.record({
      creator: fc.stringMatching(/^[a-z0-9_]{1,12}$/).map((name) => `${B}/users/${name}`),
      flattrIds: fc.uniqueArray(
        fc.nat().map((n) => `${A}/flattrs/${n}`),
        { minLength: 1, maxLength: 8 },
      ),
      amountMicros: fc.bigInt({ min: 0n, max: 10n ** 12n }),
    }),
    { selector: (s) => s.creator, maxLength: 25 },
  );
  await fc.assert(
    fc.asyncProperty(creatorShares, async (creators) => {
      const statement = buildStatement(input({ creators }));
      const total = creators.reduce((sum, c) => sum + c.amountMicros, 0n);
      const flattrs = creators.reduce((sum, c) => sum + c.flattrIds.length, 0);
      const summaryHolds =
        statement.summary.total === total.toString() &&
        statement.summary.flattrCount === flattrs &&
        statement.summary.lineCount === creators.length &&
        statement.lines.reduce((sum, l) => sum + BigInt(l.amount), 0n) === total &&
        statement.lines.every((l, i) => l.n === i + 1);
      return summaryHolds && (await receive(await sign(statement))).ok;
    }),
    { numRuns: 60 },
  );
  t.pass('checked by fast-check');
});

function hash(text: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x9e3779b1);
  return h;
}

t.test("claimed held shares: a line per claimed account, after the creator's own line", async (t) => {
  const M = 'https://m.example';
  const claimedBy = (account: string, ids: string[], amount: bigint): CreatorShares => ({
    creator: `${B}/users/ada`,
    account,
    flattrIds: ids,
    amountMicros: amount,
  });
  const statement = buildStatement(
    input({
      creators: [claimedBy(`${M}/users/zoe`, [`${A}/flattrs/9`], 2n), claimedBy(`${M}/users/al`, [`${A}/flattrs/8`], 3n), ...CREATORS],
    }),
  );
  t.same(
    statement.lines.map((l) => [l.n, l.creator, l.account, l.amount]),
    [
      [1, `${B}/users/ada`, undefined, '450000'],
      [2, `${B}/users/ada`, `${M}/users/al`, '3'],
      [3, `${B}/users/ada`, `${M}/users/zoe`, '2'],
      [4, `${B}/users/max`, undefined, '1'],
      [5, `${B}/users/yuki`, undefined, '900000'],
    ],
  );
  t.notOk('account' in (statement.lines[0] as object), 'an own line has no account property at all');
  t.same(statement.summary, { lineCount: 5, flattrCount: 8, total: '1350006' });
  const signed = await sign(statement);
  t.same(await reasonCodes(signed), [], 'signed and verified, account included');
  const moved = copy(signed);
  moved.lines[1].account = `${M}/users/bo`;
  t.same(await reasonCodes(moved), ['signature_invalid'], 'the account is covered by the proof');

  const refusal = (creators: CreatorShares[]) => {
    try {
      buildStatement(input({ creators }));
      return [];
    } catch (error) {
      return (error as StatementError).reasons.map((r) => r.code);
    }
  };
  t.same(refusal([claimedBy(`${M}/users/al`, ['x'], 1n), claimedBy(`${M}/users/al`, ['y'], 1n)]), ['duplicate_creator'], 'the same claimed account twice');
  t.same(refusal([claimedBy('al@m.example', ['x'], 1n)]), ['account_invalid']);

  const signRaw = async (doc: Record<string, unknown>): Promise<unknown> => {
    const proof = await createProof(
      doc,
      {
        type: 'DataIntegrityProof',
        cryptosuite: 'eddsa-jcs-2022',
        verificationMethod: KEY_ID,
        proofPurpose: 'assertionMethod',
        created: signedAt.toISOString(),
      },
      keys.privateKey,
    );
    return { ...doc, proof };
  };
  const swapped = structuredClone(statement) as any;
  [swapped.lines[1], swapped.lines[2]] = [
    { ...swapped.lines[2], n: 2 },
    { ...swapped.lines[1], n: 3 },
  ];
  t.same(await reasonCodes(await signRaw(swapped)), ['lines_not_sorted'], 'claimed accounts in order');
  const before = structuredClone(statement) as any;
  [before.lines[0], before.lines[1]] = [
    { ...before.lines[1], n: 1 },
    { ...before.lines[0], n: 2 },
  ];
  t.same(await reasonCodes(await signRaw(before)), ['lines_not_sorted'], 'the own line first');
  const twice = structuredClone(statement) as any;
  twice.lines[2].account = twice.lines[1].account;
  t.same(await reasonCodes(await signRaw(twice)), ['duplicate_creator']);
});
