/**
 * What admins do with settlement: list and read statements (the signed document byte for byte),
 * accept or dispute a received one, correct one of ours that the peer disputed, and manage the
 * peers they settle with (trust, block, a credit line, limit what may be owed). Exports as JSON
 * and CSV.
 */

import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { AmountMicros } from '../core/input.ts';
import { settlementMessageIri, statementPath } from '../core/iris.ts';
import { formatAmount } from '../core/money.ts';
import type { Period } from '../core/period.ts';
import type { Executor } from '../ledger/accounts.ts';
import { OUTBOX_RELAY, wakeWorker } from '../worker.ts';
import { instanceActorIri, queueMessage, wakeSettlementRelay } from './channel.ts';
import { issueTo } from './issue.ts';
import { type PeerState, stateOf } from './peers.ts';
import { clearCredits, refreshAndClear } from './pending.ts';
import { acceptIn, type LineReason, reconcile } from './receive.ts';
import type { SignedStatement } from './statement.ts';

type StatementRow = {
  id: string;
  direction: 'out' | 'in';
  peer_origin: string;
  sequence: number;
  period: string;
  total: bigint;
  state: 'open' | 'accepted' | 'disputed' | 'superseded';
  dispute: unknown;
  created_at: Date;
};

function statementView(row: StatementRow) {
  return {
    id: row.id,
    direction: row.direction,
    peer: row.peer_origin,
    sequence: row.sequence,
    period: row.period,
    total: formatAmount(row.total),
    state: row.state,
    dispute: (row.dispute as LineReason[] | null) ?? null,
    created_at: row.created_at.toISOString(),
  };
}

export async function listStatements(ctx: Context, filter: { direction?: 'in' | 'out'; period?: string; peer?: string }) {
  let query = ctx.db
    .selectFrom('statements')
    .select(['id', 'direction', 'peer_origin', 'sequence', 'period', 'total', 'state', 'dispute', 'created_at'])
    .orderBy('created_at', 'desc')
    .orderBy('sequence', 'desc');
  if (filter.direction) query = query.where('direction', '=', filter.direction);
  if (filter.period) query = query.where('period', '=', filter.period);
  if (filter.peer) query = query.where('peer_origin', '=', filter.peer);
  return (await query.limit(1000).execute()).map(statementView);
}

/** A statement by its IRI or by the uuid at its end. */
async function findStatement(ctx: Context, idOrUuid: string): Promise<StatementRow & { document: string }> {
  const row = await ctx.db
    .selectFrom('statements')
    .select(['id', 'direction', 'peer_origin', 'sequence', 'period', 'total', 'state', 'dispute', 'created_at', 'document'])
    .where((eb) => eb.or([eb('id', '=', idOrUuid), eb('id', 'like', `%${statementPath(idOrUuid.replace(/[%_\\]/g, ''))}`)]))
    .executeTakeFirst();
  if (!row || !/^[0-9a-f-]{36}$|^https?:/i.test(idOrUuid)) throw new AppError('not_found', 'no such statement');
  return row;
}

/** The signed document exactly as it was issued or received. */
export async function statementDocument(ctx: Context, id: string): Promise<string> {
  return (await findStatement(ctx, id)).document;
}

export async function statementDetails(ctx: Context, id: string) {
  return statementView(await findStatement(ctx, id));
}

/** Accepting a received statement by hand (auto-accept off, or after looking into a dispute). */
export async function acceptStatement(ctx: Context, id: string) {
  const row = await findStatement(ctx, id);
  if (row.direction !== 'in') throw new AppError('forbidden', 'only the counterparty accepts a statement');
  if (row.state === 'accepted') return statementView(row);
  if (row.state === 'superseded') throw new AppError('period_closed', 'a later statement replaced this one');
  await ctx.db.transaction().execute(async (trx) => {
    await acceptIn(trx, ctx, row.id);
    await refreshAndClear(trx, ctx, row.peer_origin, row.period);
  });
  wakeSettlementRelay(ctx);
  return statementDetails(ctx, row.id);
}

/** Disputing a received statement, line by line; the reasons go to the issuer. */
export async function disputeStatement(ctx: Context, id: string, lines: LineReason[]) {
  const row = await findStatement(ctx, id);
  if (row.direction !== 'in') throw new AppError('forbidden', 'only the counterparty disputes a statement');
  if (row.state === 'accepted' || row.state === 'superseded') throw new AppError('period_closed', `the statement is ${row.state}`);
  if (lines.length === 0) throw new AppError('invalid_request', 'name at least one line and why', { field: 'lines' });
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('statements')
      .set({ state: 'disputed', dispute: JSON.stringify(lines), decided_at: ctx.clock.now() })
      .where('id', '=', row.id)
      .execute();
    const message = {
      type: 'FlattrStatementResponse',
      id: settlementMessageIri(ctx.config.origin, randomUUID()),
      issuer: instanceActorIri(ctx.config.origin),
      statement: row.id,
      outcome: 'disputed',
      lines,
    };
    await queueMessage(trx, ctx, row.peer_origin, message.id, JSON.stringify(message));
    await refreshAndClear(trx, ctx, row.peer_origin, row.period);
  });
  wakeSettlementRelay(ctx);
  return statementDetails(ctx, row.id);
}

/**
 * Correcting one of our statements that the peer disputed: the Likes of its flattrs are sent
 * again (a lost delivery is the usual cause), and the next statement of the chain restates the
 * period; it supersedes the disputed one.
 */
export async function correctStatement(ctx: Context, id: string) {
  const row = await findStatement(ctx, id);
  if (row.direction !== 'out') throw new AppError('forbidden', 'only the issuer corrects its statement');
  if (row.state !== 'disputed') throw new AppError('invalid_request', `only a disputed statement is corrected; this one is ${row.state}`);
  await sql`
    UPDATE outbox o SET relayed_at = NULL, claimed_until = NULL
    FROM flattrs f JOIN things t ON t.id = f.thing_id JOIN remote_actors ra ON ra.id = t.owner_actor_id
    WHERE o.flattr_id = f.id AND o.kind = 'like' AND f.period = ${row.period} AND ra.instance_origin = ${row.peer_origin}
      AND f.withdrawn_at IS NULL`.execute(ctx.db);
  wakeWorker(ctx, OUTBOX_RELAY);
  // Whichever arrives first at the peer, the Likes or the correction, the peer ends up accepting
  // the correction: a late Like makes a disputed statement reconcile (receive.ts).
  const next = await issueTo(ctx, row.peer_origin, row.period as Period, { correcting: row.id });
  if (!next) throw new AppError('invalid_request', 'a later statement of this period exists already');
  wakeSettlementRelay(ctx);
  return statementDetails(ctx, next);
}

/**
 * Every instance this one has a peer: account, a statement or an incoming flattr from (and every
 * peer the admin named): its state, limits, what is owed either way, its creators' pending
 * credits, and what its statements claim.
 */
export async function listPeers(ctx: Context, only?: string) {
  const rows = await sql<{
    origin: string;
    actor: string | null;
    blocked: boolean | null;
    trusted: boolean | null;
    owe_limit: bigint | null;
    credit_line: bigint | null;
    first_seen: Date | null;
    owed: bigint | null;
    pending: bigint;
    claimed: bigint;
    awaiting: bigint;
    statements: bigint;
    software: string | null;
  }>`
    WITH origins AS (
      SELECT origin FROM peers
      UNION SELECT substring(code FROM 6) FROM accounts WHERE type = 'peer'
      UNION SELECT peer_origin FROM statements
      UNION SELECT instance_origin FROM incoming_flattrs
    )
    SELECT o.origin, p.actor, p.blocked, p.trusted, p.owe_limit, p.credit_line, b.balance AS owed,
      LEAST(p.created_at,
            (SELECT min(received_at) FROM incoming_flattrs i WHERE i.instance_origin = o.origin),
            (SELECT min(created_at) FROM statements s WHERE s.peer_origin = o.origin AND s.direction = 'in')) AS first_seen,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM pending_credits pc WHERE pc.peer_origin = o.origin AND pc.state = 'pending') AS pending,
      (SELECT COALESCE(sum(total), 0)::bigint FROM statements s WHERE s.peer_origin = o.origin AND s.direction = 'in' AND s.state <> 'superseded') AS claimed,
      (SELECT COALESCE(sum(total), 0)::bigint FROM statements s WHERE s.peer_origin = o.origin AND s.direction = 'in' AND s.state = 'open') AS awaiting,
      (SELECT count(*)::bigint FROM statements s WHERE s.peer_origin = o.origin AND s.direction = 'in') AS statements,
      (SELECT max(software) FROM remote_actors ra WHERE ra.instance_origin = o.origin) AS software
    FROM origins o
    LEFT JOIN peers p ON p.origin = o.origin
    LEFT JOIN accounts a ON a.code = 'peer:' || o.origin
    LEFT JOIN account_balances b ON b.account_id = a.id
    WHERE o.origin <> ${ctx.config.origin} AND (${only ?? null}::text IS NULL OR o.origin = ${only ?? null})
    ORDER BY o.origin`.execute(ctx.db);
  return rows.rows.map((r) => {
    const owed = BigInt(r.owed ?? 0n);
    return {
      origin: r.origin,
      actor: r.actor ?? instanceActorIri(r.origin),
      state: stateOf({ trusted: r.trusted ?? false, blocked: r.blocked ?? false }),
      blocked: r.blocked ?? false,
      credit_line: formatAmount(BigInt(r.credit_line ?? 0n)),
      owe_limit: r.owe_limit === null ? null : formatAmount(r.owe_limit),
      /** Positive: this instance owes the peer; negative: the peer owes us. */
      balance: owed < 0n ? `-${formatAmount(-owed)}` : formatAmount(owed),
      /** Our creators' credits from this peer waiting for their settlement. */
      pending: formatAmount(BigInt(r.pending)),
      /** What its current statements to us add up to, and the part still open (waiting for trust or for the admin). */
      claimed: formatAmount(BigInt(r.claimed)),
      awaiting: formatAmount(BigInt(r.awaiting)),
      statements: Number(r.statements),
      /** The software its NodeInfo names, when one of its actors was looked up. */
      software: r.software,
      first_seen: r.first_seen === null ? null : new Date(r.first_seen).toISOString(),
    };
  });
}

/** What an admin may change about a peer (PUT /api/v1/admin/peers without `peer`, `farthing peer`). */
export const PeerChangeInput = z.object({
  state: z.enum(['trusted', 'pending', 'blocked']).optional(),
  /** Older clients: true blocks, false unblocks (to pending unless state says otherwise). */
  blocked: z.boolean().optional(),
  credit_line: AmountMicros.optional(),
  /** null: no limit. */
  owe_limit: AmountMicros.nullable().optional(),
});
export type PeerChange = z.output<typeof PeerChangeInput>;

/** PUT /api/v1/admin/peers: the peer (checked to be an origin by updatePeer) and the change. */
export const PeerInput = z.object({ peer: z.string().min(1).max(300), ...PeerChangeInput.shape });

/**
 * The admin decides about a peer: its state, its credit line and how much may be owed to it.
 * Trusting a peer applies its statements kept open meanwhile (accepted when they reconcile and
 * auto-accept is on; else they wait for the admin), and a credit line clears what it covers.
 */
export async function updatePeer(ctx: Context, origin: string, change: PeerChange) {
  const url = URL.parse(origin);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin.replace(/\/$/, '').toLowerCase()) {
    throw new AppError('invalid_request', 'peer must be an instance origin such as https://b.example', { field: 'peer' });
  }
  if (url.origin === ctx.config.origin) throw new AppError('invalid_request', 'this instance does not settle with itself', { field: 'peer' });
  const state: PeerState | undefined = change.state ?? (change.blocked ? 'blocked' : undefined);
  const limit = change.owe_limit;
  const creditLine = change.credit_line;
  const set = {
    ...(state !== undefined ? { trusted: state === 'trusted', blocked: state === 'blocked' } : change.blocked === false ? { blocked: false } : {}),
    ...(limit !== undefined ? { owe_limit: limit } : {}),
    ...(creditLine !== undefined ? { credit_line: creditLine } : {}),
  };
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('peers')
      .values({ origin: url.origin, actor: instanceActorIri(url.origin), created_at: ctx.clock.now(), ...set })
      .onConflict((oc) => (Object.keys(set).length ? oc.column('origin').doUpdateSet(set) : oc.column('origin').doNothing()))
      .execute();
    if (state === 'trusted') await applyKeptStatements(trx, ctx, url.origin);
    await clearCredits(trx, ctx, url.origin);
  });
  wakeSettlementRelay(ctx);
  return (await listPeers(ctx, url.origin))[0];
}

/** A newly trusted peer's statements that were kept open: accepted now when they reconcile. */
async function applyKeptStatements(trx: Executor, ctx: Context, peer: string): Promise<void> {
  if (!ctx.config.settlementAutoAccept) return;
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`statements-in:${peer}`}))`.execute(trx);
  const open = await trx
    .selectFrom('statements')
    .select(['id', 'period', 'document'])
    .where('direction', '=', 'in')
    .where('peer_origin', '=', peer)
    .where('state', '=', 'open')
    .orderBy('sequence')
    .execute();
  for (const row of open) {
    const disputes = await reconcile(trx, ctx, peer, JSON.parse(row.document) as SignedStatement);
    if (disputes.length > 0) continue;
    await acceptIn(trx, ctx, row.id);
    await refreshAndClear(trx, ctx, peer, row.period);
  }
}

/** CSV of statements (one row per line) or of settlements. */
export async function statementsCsv(ctx: Context, filter: { period?: string; direction?: 'in' | 'out' }): Promise<string[][]> {
  let query = ctx.db
    .selectFrom('statements')
    .select(['id', 'direction', 'peer_origin', 'sequence', 'period', 'state', 'document'])
    .orderBy('peer_origin')
    .orderBy('sequence');
  if (filter.period) query = query.where('period', '=', filter.period);
  if (filter.direction) query = query.where('direction', '=', filter.direction);
  const rows: string[][] = [['statement', 'direction', 'peer', 'sequence', 'period', 'state', 'line', 'creator', 'claimed_account', 'flattrs', 'amount']];
  for (const s of await query.execute()) {
    const doc = JSON.parse(s.document) as { lines: { n: number; creator: string; account?: string; flattrCount: number; amount: string }[] };
    for (const line of doc.lines)
      rows.push([
        s.id,
        s.direction,
        s.peer_origin,
        String(s.sequence),
        s.period,
        s.state,
        String(line.n),
        line.creator,
        line.account ?? '',
        String(line.flattrCount),
        formatAmount(BigInt(line.amount)),
      ]);
  }
  return rows;
}
