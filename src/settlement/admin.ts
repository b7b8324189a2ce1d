/**
 * What admins do with settlement: list and read statements (the signed document byte for byte),
 * accept or dispute a received one, correct one of ours that the peer disputed, and manage the
 * peers they settle with (block, limit what may be owed). Exports as JSON and CSV.
 */
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { formatAmount, parseAmount } from '../core/money.ts';
import type { Period } from '../core/period.ts';
import { wakeRelay } from '../federation/outbox.ts';
import { wakeSettlementRelay } from './channel.ts';
import { issueTo } from './issue.ts';
import { refreshSettlement } from './netting.ts';
import { acceptIn, type LineReason } from './receive.ts';
import { queueMessage, instanceActorIri } from './channel.ts';
import { randomUUID } from 'node:crypto';

type StatementRow = { id: string; direction: 'out' | 'in'; peer_origin: string; sequence: number; period: string; total: bigint; state: 'open' | 'accepted' | 'disputed' | 'superseded'; dispute: unknown; created_at: Date };

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
  let query = ctx.db.selectFrom('statements').select(['id', 'direction', 'peer_origin', 'sequence', 'period', 'total', 'state', 'dispute', 'created_at']).orderBy('created_at', 'desc').orderBy('sequence', 'desc');
  if (filter.direction) query = query.where('direction', '=', filter.direction);
  if (filter.period) query = query.where('period', '=', filter.period);
  if (filter.peer) query = query.where('peer_origin', '=', filter.peer);
  return (await query.limit(1000).execute()).map(statementView);
}

/** A statement by its IRI or by the uuid at its end. */
async function findStatement(ctx: Context, idOrUuid: string): Promise<StatementRow & { document: string }> {
  const row = await ctx.db.selectFrom('statements').select(['id', 'direction', 'peer_origin', 'sequence', 'period', 'total', 'state', 'dispute', 'created_at', 'document'])
    .where((eb) => eb.or([eb('id', '=', idOrUuid), eb('id', 'like', `%/settlement/statements/${idOrUuid.replace(/[%_\\]/g, '')}`)]))
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
    await refreshSettlement(trx, row.peer_origin, row.period);
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
    await trx.updateTable('statements').set({ state: 'disputed', dispute: JSON.stringify(lines), decided_at: ctx.clock.now() }).where('id', '=', row.id).execute();
    const message = { type: 'FlattrStatementResponse', id: `${ctx.config.origin}/settlement/messages/${randomUUID()}`, issuer: instanceActorIri(ctx.config.origin), statement: row.id, outcome: 'disputed', lines };
    await queueMessage(trx, ctx, row.peer_origin, message.id, JSON.stringify(message));
    await refreshSettlement(trx, row.peer_origin, row.period);
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
  wakeRelay(ctx);
  // Whichever arrives first at the peer, the Likes or the correction, the peer ends up accepting
  // the correction: a late Like makes a disputed statement reconcile (receive.ts).
  const next = await issueTo(ctx, row.peer_origin, row.period as Period, { correcting: row.id });
  if (!next) throw new AppError('invalid_request', 'a later statement of this period exists already');
  wakeSettlementRelay(ctx);
  return statementDetails(ctx, next);
}

export async function listPeers(ctx: Context) {
  const rows = await sql<{ origin: string; actor: string; blocked: boolean; owe_limit: bigint | null; owed: bigint | null }>`
    SELECT p.origin, p.actor, p.blocked, p.owe_limit, b.balance AS owed
    FROM peers p LEFT JOIN accounts a ON a.code = 'peer:' || p.origin LEFT JOIN account_balances b ON b.account_id = a.id
    ORDER BY p.origin`.execute(ctx.db);
  return rows.rows.map((r) => ({
    origin: r.origin,
    actor: r.actor,
    blocked: r.blocked,
    owe_limit: r.owe_limit === null ? null : formatAmount(r.owe_limit),
    /** Positive: this instance owes the peer; negative: the peer owes us. */
    balance: (r.owed ?? 0n) < 0n ? `-${formatAmount(-(r.owed ?? 0n))}` : formatAmount(r.owed ?? 0n),
  }));
}

export async function updatePeer(ctx: Context, origin: string, change: { blocked?: boolean; owe_limit?: string | null }) {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new AppError('invalid_request', 'peer must be an instance origin such as https://b.example', { field: 'peer' });
  }
  const limit = change.owe_limit === undefined ? undefined : change.owe_limit === null ? null : parseAmount(change.owe_limit);
  await ctx.db.insertInto('peers').values({ origin: url.origin, actor: `${url.origin}/actor`, created_at: ctx.clock.now(), ...(change.blocked !== undefined ? { blocked: change.blocked } : {}), ...(limit !== undefined ? { owe_limit: limit } : {}) })
    .onConflict((oc) => oc.column('origin').doUpdateSet({ ...(change.blocked !== undefined ? { blocked: change.blocked } : {}), ...(limit !== undefined ? { owe_limit: limit } : {}) }))
    .execute();
  return (await listPeers(ctx)).find((p) => p.origin === url.origin);
}

/** CSV of statements (one row per line) or of settlements. */
export async function statementsCsv(ctx: Context, filter: { period?: string; direction?: 'in' | 'out' }): Promise<string[][]> {
  let query = ctx.db.selectFrom('statements').select(['id', 'direction', 'peer_origin', 'sequence', 'period', 'state', 'document']).orderBy('peer_origin').orderBy('sequence');
  if (filter.period) query = query.where('period', '=', filter.period);
  if (filter.direction) query = query.where('direction', '=', filter.direction);
  const rows: string[][] = [['statement', 'direction', 'peer', 'sequence', 'period', 'state', 'line', 'creator', 'claimed_account', 'flattrs', 'amount']];
  for (const s of await query.execute()) {
    const doc = JSON.parse(s.document) as { lines: { n: number; creator: string; account?: string; flattrCount: number; amount: string }[] };
    for (const line of doc.lines) rows.push([s.id, s.direction, s.peer_origin, String(s.sequence), s.period, s.state, String(line.n), line.creator, line.account ?? '', String(line.flattrCount), formatAmount(BigInt(line.amount))]);
  }
  return rows;
}
