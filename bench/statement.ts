/**
 * A settlement statement at scale: 100,000 creator lines (about a million flattrs) built, signed
 * and verified as the counterparty would (JSON text -> shape check -> content, proof).
 * Target: each step under 3 s. `node bench/statement.ts` runs it alone.
 */
import type { Period } from '../src/core/period.ts';
import { statementDigest } from '../src/settlement/digest.ts';
import { buildStatement, type CreatorShares, signStatement } from '../src/settlement/statement.ts';
import { verifyStatement } from '../src/settlement/statement-check.ts';
import { parseSignedStatement } from '../src/settlement/statement-schema.ts';
import { formatSeconds, verdict } from './util.ts';

const LINES = Number(process.env.BENCH_STATEMENT_LINES ?? 100_000);
const MAX_FLATTRS_PER_LINE = 20;
const TARGET_MS = 3000;

export async function benchStatement(): Promise<void> {
  const creators = randomCreators(LINES);
  const flattrs = creators.reduce((n, c) => n + c.flattrIds.length, 0);
  const inputMb = process.memoryUsage().rss / 1024 / 1024;
  console.log(`${LINES.toLocaleString('en')} lines, ${flattrs.toLocaleString('en')} flattrs (RSS with the input generated: ${inputMb.toFixed(0)} MB)`);
  const keys = await crypto.subtle.generateKey('Ed25519', false, ['sign', 'verify']);

  const build = await timed(() =>
    buildStatement({
      id: 'https://a.example/settlement/statements/0d4c5e1e-7f7a-4c47-9a43-3a1f0e1c2b77',
      issuer: 'https://a.example/actor',
      counterparty: 'https://b.example/actor',
      sequence: 1,
      previous: null,
      period: '2026-11' as Period,
      currency: 'EUR',
      issuedAt: new Date(),
      creators,
    }),
  );
  const sign = await timed(() =>
    signStatement(build.result, { privateKey: keys.privateKey, verificationMethod: 'https://a.example/actor#main-key' }, new Date()),
  );
  const text = JSON.stringify(sign.result);
  const verify = await timed(() => verifyStatement(parseSignedStatement(JSON.parse(text)), { publicKey: keys.publicKey }));
  if (!verify.result.ok) throw new Error(`the benchmark's statement does not verify: ${JSON.stringify(verify.result.reasons.slice(0, 3))}`);
  const digest = await timed(() => statementDigest(sign.result));

  const bytes = Buffer.byteLength(text);
  const peakMb = process.resourceUsage().maxRSS / 1024;
  console.log(`build:  ${formatSeconds(build.ms)} (${verdict(build.ms < TARGET_MS)})`);
  console.log(`sign:   ${formatSeconds(sign.ms)} (${verdict(sign.ms < TARGET_MS)})`);
  console.log(`verify: ${formatSeconds(verify.ms)} (${verdict(verify.ms < TARGET_MS)}), JSON.parse + shape + content + proof`);
  console.log(`statementDigest: ${formatSeconds(digest.ms)}`);
  console.log(`signed document: ${bytes.toLocaleString('en')} bytes (${(bytes / 1024 / 1024).toFixed(1)} MB) as JSON`);
  console.log(`peak RSS of this process: ${peakMb.toFixed(0)} MB`);
}

async function timed<T>(work: () => T | Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
}

/** Creators on b.example with 1..20 flattrs each and amounts of up to 100.00; seeded, so every run builds the same statement. */
function randomCreators(count: number): CreatorShares[] {
  const random = xorshift32(20261101);
  let nextFlattr = 1;
  return Array.from({ length: count }, (_, i) => {
    const flattrIds = Array.from(
      { length: 1 + Math.floor(random() * MAX_FLATTRS_PER_LINE) },
      () => `https://a.example/flattrs/${(nextFlattr++).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`,
    );
    return {
      creator: `https://b.example/users/${Math.floor(random() * 1e6).toString(36)}-${i.toString(36)}`,
      flattrIds,
      amountMicros: BigInt(Math.floor(random() * 100_000_000)),
    };
  });
}

/** Marsaglia's xorshift: plenty for test data, and reproducible. */
function xorshift32(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

if (import.meta.main) await benchStatement();
