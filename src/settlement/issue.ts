/**
 * Issuing statements after a close: one per peer instance and period — an empty one too, so a
 * gap is visible — chained to the previous statement to that peer, its lines what the close
 * booked as owed to that instance (checked to the micro-unit), signed with the instance actor's
 * Ed25519 key (the multikey its actor document lists in assertionMethod), and queued for
 * delivery in the same transaction that records it. Issuing twice issues nothing new.
 *
 * Peers are the instances this one settles with: Farthing instances whose creators were
 * flattred here, and those whose members flattred things here, unless blocked.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { INSTANCE_ACTOR_PATH, statementIri } from '../core/iris.ts';
import type { Period } from '../core/period.ts';
import { flattrIri } from '../flattrs/service.ts';
import { closeTransferKey, PEER_ORIGIN_SQL } from '../ledger/accounts.ts';
import { instanceActorIri, instanceSigner, queueMessage, wakeSettlementRelay } from './channel.ts';
import { referenceTo, statementDigest } from './digest.ts';
import { ensureSettlement } from './netting.ts';
import { buildStatement, type CreatorShares, type SignedStatement, signStatement } from './statement.ts';

/** Adds the Farthing instances seen so far to `peers` (new ones only). */
export async function discoverPeers(ctx: Context): Promise<void> {
  await sql`
    INSERT INTO peers (origin, actor, created_at)
    SELECT o, o || ${INSTANCE_ACTOR_PATH}::text, ${ctx.clock.now()}::timestamptz FROM (
      SELECT instance_origin AS o FROM remote_actors WHERE software = 'farthing'
      UNION SELECT ${sql.raw(PEER_ORIGIN_SQL)} FROM remote_actors ra WHERE claimed_by IS NOT NULL
      UNION SELECT instance_origin FROM incoming_flattrs
    ) x WHERE o <> ${ctx.config.origin}
    ON CONFLICT (origin) DO NOTHING`.execute(ctx.db);
}

export async function issueStatements(ctx: Context, period: Period): Promise<string[]> {
  await discoverPeers(ctx);
  const peers = await ctx.db.selectFrom('peers').select('origin').where('blocked', '=', false).orderBy('origin').execute();
  const issued: string[] = [];
  for (const { origin } of peers) {
    const id = await issueTo(ctx, origin, period);
    if (id) issued.push(id);
  }
  if (issued.length) wakeSettlementRelay(ctx);
  return issued;
}

/**
 * Statements of closed periods not issued yet (a crash between a close and its statements, a
 * peer seen for the first time): issued in period order. The server runs it at start.
 */
export async function issueMissingStatements(ctx: Context): Promise<void> {
  const closes = await ctx.db.selectFrom('closes').select('period').where('stage', '=', 'done').orderBy('period').execute();
  for (const { period } of closes.slice(-12)) await issueStatements(ctx, period as Period);
}

/**
 * What the close of `period` booked as owed to the peer, per creator, with the flattr ids: this
 * period's shares of its creators, and the held unclaimed shares (of earlier periods) of
 * accounts its creators claimed, which that close paid to it (one line per claimed account).
 */
async function owedLines(ctx: Context, peer: string, period: Period): Promise<CreatorShares[]> {
  const { rows } = await sql<{ creator: string; account: string | null; flattr_ids: string[]; amount: bigint }>`
    SELECT COALESCE(ra.claimed_by, ra.iri) AS creator, NULL AS account,
           array_agg(s.flattr_id::text ORDER BY s.flattr_id) AS flattr_ids, sum(s.net)::bigint AS amount
    FROM shares s JOIN remote_actors ra ON ra.id = s.recipient_actor_id
    -- a fediverse account claimed by a Farthing member is owed to that member's instance (H5, claims.ts)
    WHERE s.period = ${period} AND s.disposition = 'peer' AND ${sql.raw(PEER_ORIGIN_SQL)} = ${peer}
    GROUP BY COALESCE(ra.claimed_by, ra.iri)
    UNION ALL
    SELECT u.claimed_creator, ra.iri, array_agg(s.flattr_id::text ORDER BY s.flattr_id), sum(s.net)::bigint
    FROM unclaimed u
    JOIN remote_actors ra ON ra.id = u.actor_id
    JOIN shares s ON s.period = u.period AND s.recipient_actor_id = u.actor_id AND s.disposition = 'unclaimed'
    WHERE u.state = 'claimed' AND u.settled_period = ${period} AND u.claimed_peer = ${peer}
    GROUP BY u.claimed_creator, ra.iri`.execute(ctx.db);
  return rows.map((r) => ({
    creator: r.creator,
    ...(r.account === null ? {} : { account: r.account }),
    flattrIds: r.flattr_ids.map((id) => flattrIri(ctx, id)),
    amountMicros: BigInt(r.amount),
  }));
}

/**
 * Issues the statement of `period` to `peer` unless one exists; a correction (`correcting`)
 * issues the next one for the same period. Answers the new statement's id, if any.
 */
export async function issueTo(ctx: Context, peer: string, period: Period, options: { correcting?: string } = {}): Promise<string | undefined> {
  const creators = await owedLines(ctx, peer, period);
  const booked = await sql<{ amount: bigint }>`
    SELECT COALESCE(sum(amount), 0)::bigint AS amount FROM transfers
    WHERE kind = 'owed_to_peer' AND idempotency_key = ${closeTransferKey(period, `peer:${peer}`)}
       OR kind = 'unclaimed_claim' AND idempotency_key = ${closeTransferKey(period, `claim:${peer}`)}`.execute(ctx.db);
  const total = creators.reduce((sum, c) => sum + c.amountMicros, 0n);
  if (total !== BigInt(booked.rows[0]?.amount ?? 0n)) {
    throw new Error(`statement to ${peer} for ${period}: lines add up to ${total}, the close booked ${booked.rows[0]?.amount}`);
  }
  const signer = await instanceSigner(ctx);

  return ctx.db.transaction().execute(async (trx) => {
    // One issuer at a time per peer: the chain has one next sequence.
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`statements:${peer}`}))`.execute(trx);
    const existing = await trx
      .selectFrom('statements')
      .select(['id', 'state'])
      .where('direction', '=', 'out')
      .where('peer_origin', '=', peer)
      .where('period', '=', period)
      .orderBy('sequence', 'desc')
      .executeTakeFirst();
    if (existing && options.correcting === undefined) return undefined;
    if (options.correcting !== undefined && existing?.id !== options.correcting) return undefined;
    const last = await trx
      .selectFrom('statements')
      .select(['sequence', 'document', 'period'])
      .where('direction', '=', 'out')
      .where('peer_origin', '=', peer)
      .orderBy('sequence', 'desc')
      .executeTakeFirst();
    // The chain never goes back in time: a period before the last one stated stays unstated.
    if (last && last.period > period) return undefined;
    const previous = last ? (JSON.parse(last.document) as SignedStatement) : null;
    const statement = buildStatement({
      id: statementIri(ctx.config.origin, randomUUID()),
      issuer: instanceActorIri(ctx.config.origin),
      counterparty: instanceActorIri(peer),
      sequence: (last?.sequence ?? 0) + 1,
      previous: previous ? referenceTo(previous) : null,
      period,
      currency: ctx.config.currency,
      issuedAt: ctx.clock.now(),
      creators,
    });
    const signed = await signStatement(statement, signer, ctx.clock.now());
    const document = JSON.stringify(signed);
    if (options.correcting !== undefined) {
      await trx.updateTable('statements').set({ state: 'superseded', decided_at: ctx.clock.now() }).where('id', '=', options.correcting).execute();
    }
    await trx
      .insertInto('statements')
      .values({
        id: signed.id,
        direction: 'out',
        peer_origin: peer,
        sequence: signed.sequence,
        period,
        currency: signed.currency,
        total,
        digest: statementDigest(signed),
        document,
        state: 'open',
        dispute: null,
        created_at: ctx.clock.now(),
      })
      .execute();
    await ensureSettlement(trx, peer, period);
    await queueMessage(trx, ctx, peer, signed.id, document);
    return signed.id;
  });
}
