/**
 * The key pairs of an actor (table actor_keys, migrations/0003_federation_keys.ts): an RSA key
 * for HTTP signatures, which Mastodon requires, and an Ed25519 key for object proofs (and, for
 * the instance actor, settlement statements). They are made on first use and kept for good.
 *
 * The RSA key is 2048 bits, as Mastodon makes its own. Fedify's generateCryptoKeyPair makes 4096-bit
 * keys, which here took 1.5 s of CPU to generate (0.2 s for 2048) and ten times as long to sign
 * each delivery with (3.8 ms against 0.35 ms), for nothing a peer asks for: NIST holds 2048-bit
 * RSA good through 2030.
 *
 * Two processes may ask for a new actor's keys at the same moment. Each generates a pair, both
 * insert with ON CONFLICT DO NOTHING, and both then read what is stored: whichever insert won,
 * every caller signs with the same keys.
 */
import { exportJwk, generateCryptoKeyPair, importJwk } from '@fedify/fedify';
import type { Context } from '../context.ts';

export type KeyKind = 'rsa' | 'ed25519';

/** RSA first: Fedify names an actor's first key `#main-key`, the one Mastodon looks for. */
const KINDS: readonly KeyKind[] = ['rsa', 'ed25519'];
const ALGORITHM = { rsa: 'RSASSA-PKCS1-v1_5', ed25519: 'Ed25519' } as const;

/**
 * The key pairs of a member's actor (`memberId`) or of the instance actor (`null`), in the order
 * of KINDS, created if the actor has none yet.
 */
export async function actorKeyPairs(ctx: Pick<Context, 'db' | 'clock'>, memberId: bigint | null): Promise<CryptoKeyPair[]> {
  let rows = await storedKeys(ctx, memberId);
  const missing = KINDS.filter((kind) => !rows.some((row) => row.kind === kind));
  if (missing.length > 0) {
    const now = ctx.clock.now();
    const created = await Promise.all(
      missing.map(async (kind) => {
        const pair = kind === 'rsa' ? await generateRsaKeyPair() : await generateCryptoKeyPair(ALGORITHM[kind]);
        return {
          member_id: memberId,
          kind,
          public_key: JSON.stringify(await exportJwk(pair.publicKey)),
          private_key: JSON.stringify(await exportJwk(pair.privateKey)),
          created_at: now,
        };
      }),
    );
    await ctx.db
      .insertInto('actor_keys')
      .values(created)
      .onConflict((oc) => oc.columns(['member_id', 'kind']).doNothing())
      .execute();
    rows = await storedKeys(ctx, memberId);
  }
  return Promise.all(
    KINDS.map(async (kind) => {
      const row = rows.find((r) => r.kind === kind);
      if (!row) throw new Error(`the ${kind} key of actor ${memberId ?? 'instance'} was not stored`);
      return { publicKey: await importJwk(row.public_key, 'public'), privateKey: await importJwk(row.private_key, 'private') };
    }),
  );
}

/** An RSASSA-PKCS1-v1_5 / SHA-256 pair of 2048 bits, extractable (it is stored as JWK). */
function generateRsaKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: ALGORITHM.rsa, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, [
    'sign',
    'verify',
  ]) as Promise<CryptoKeyPair>;
}

function storedKeys(ctx: Pick<Context, 'db'>, memberId: bigint | null) {
  return (
    ctx.db
      .selectFrom('actor_keys')
      .select(['kind', 'public_key', 'private_key'])
      // `IS NULL` for the instance actor: `= NULL` matches nothing.
      .where('member_id', memberId === null ? 'is' : '=', memberId)
      .execute()
  );
}
