/**
 * The key pairs of an actor (table actor_keys, migrations/0003_federation_keys.ts): an RSA key
 * for HTTP signatures, which Mastodon requires, and an Ed25519 key for object proofs (and, for
 * the instance actor, settlement statements). They are made on first use and kept for good.
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
        const pair = await generateCryptoKeyPair(ALGORITHM[kind]);
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
