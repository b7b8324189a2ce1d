/**
 * What arrives at /settlement/inbox from a peer instance, after channel.ts has verified who sent
 * it: a statement, the peer's answer to one of ours, or a step of paying the net.
 *
 * A statement is refused (422 statement_refused, with every reason, nothing stored) when its
 * shape, content or proof is wrong, when it is not addressed to us, not in our currency, not
 * the sender's own, for a period that has not ended, or not the next in the chain (a replayed or
 * out-of-order sequence). The same statement delivered again is answered as before.
 *
 * A statement that passes is reconciled line by line against the incoming flattrs from that
 * instance: the creator must be our member, the count and the digest of the sorted flattr
 * ids must match what their Likes told us, and no line may claim more than its flattr count
 * times our maximum budget (amount_implausible). One that reconciles, from a peer the admin
 * trusts, is accepted (unless the admin accepts by hand: FARTHING_SETTLEMENT_AUTO_ACCEPT=off)
 * and credits the creators, pending until the settlement (pending.ts); from a pending peer it is
 * kept open, crediting nobody, until the admin trusts the peer. One that does not reconcile is
 * held as disputed with per-line reasons. Either answer goes back to the issuer.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { parseIriOf, settlementMessageIri } from '../core/iris.ts';
import { formatAmount } from '../core/money.ts';
import { periodEnd } from '../core/period.ts';
import { type Executor, ensureAccount, peerCode } from '../ledger/accounts.ts';
import { actorIri } from '../members/service.ts';
import { instanceActorIri, queueMessage, verifyMessageProof, wakeSettlementRelay } from './channel.ts';
import { flattrSetDigest, statementDigest } from './digest.ts';
import { onConfirmedMessage, onPaidMessage } from './netting.ts';
import { isTrusted, recordPendingPeer } from './peers.ts';
import { bookPendingCredit, refreshAndClear } from './pending.ts';
import type { SignedStatement } from './statement.ts';
import { checkChain, verifyStatement } from './statement-check.ts';
import { parseSignedStatement } from './statement-schema.ts';

export interface LineReason {
  n: number;
  reason: string;
  /** A stable code where the reason has one (amount_implausible). */
  code?: string;
}

function refuse(reasons: readonly { code: string; message: string; line?: number }[]): never {
  throw new AppError(
    'statement_refused',
    `the statement is refused: ${reasons
      .slice(0, 3)
      .map((r) => r.message)
      .join('; ')}`,
    { reasons },
  );
}

export async function receiveMessage(ctx: Context, sender: { origin: string; multikeys: Map<string, CryptoKey> }, text: string) {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(text);
  } catch {
    throw new AppError('invalid_request', 'the body is not JSON');
  }
  if (typeof message !== 'object' || message === null) throw new AppError('invalid_request', 'the body is not a settlement message');
  const peer = await ctx.db.selectFrom('peers').select(['blocked']).where('origin', '=', sender.origin).executeTakeFirst();
  if (peer?.blocked) throw new AppError('peer_blocked', 'this instance does not settle with yours');
  // An instance seen for the first time is a pending peer: the admin sees it and decides.
  if (!peer) await recordPendingPeer(ctx, sender.origin);
  if (message.type !== 'FlattrStatement' && message.issuer !== instanceActorIri(sender.origin)) {
    throw new AppError('unauthorized', "the message's issuer is not the instance that signed it");
  }
  if (message.type === 'FlattrStatement') return receiveStatement(ctx, sender, text, message);
  const handler = typeof message.type === 'string' ? MESSAGE_HANDLERS.get(message.type) : undefined;
  if (!handler) throw new AppError('invalid_request', `unknown settlement message type ${JSON.stringify(message.type)}`);
  const id = typeof message.id === 'string' ? URL.parse(message.id) : null;
  if (!id || id.href !== message.id || id.origin !== sender.origin)
    throw new AppError('invalid_request', "the message's id must be an IRI on the sender's origin");
  await verifyMessageProof(message, sender.multikeys);
  // Each message counts once: a replay (a retried delivery, or a copy sent again later) is
  // answered as before and changes nothing, even when the state has moved on since.
  const result = await ctx.db.transaction().execute(async (trx) => {
    const fresh = await trx
      .insertInto('settlement_messages_in')
      .values({ message_id: id.href, peer_origin: sender.origin, type: message.type as string, body: text, received_at: ctx.clock.now() })
      .onConflict((oc) => oc.column('message_id').doNothing())
      .executeTakeFirst();
    if ((fresh.numInsertedOrUpdatedRows ?? 0n) === 0n) return { ok: true, replay: true };
    await handler(trx, ctx, sender.origin, message);
    return { ok: true };
  });
  wakeSettlementRelay(ctx);
  return result;
}

type MessageHandler = (db: Executor, ctx: Context, peer: string, message: Record<string, unknown>) => Promise<void>;

const MESSAGE_HANDLERS = new Map<string, MessageHandler>([
  ['FlattrStatementResponse', (db, ctx, peer, message) => onResponse(db, ctx, peer, message)],
  ['FlattrSettlementPaid', onPaidMessage],
  ['FlattrSettlementConfirmed', onConfirmedMessage],
]);

async function receiveStatement(ctx: Context, sender: { origin: string; multikeys: Map<string, CryptoKey> }, text: string, json: unknown) {
  let parsed: ReturnType<typeof parseSignedStatement>;
  try {
    parsed = parseSignedStatement(json);
  } catch (error) {
    refuse([{ code: 'malformed', message: (error as Error).message.slice(0, 500) }]);
  }
  const known = await ctx.db.selectFrom('statements').select(['document', 'state']).where('id', '=', parsed.id).executeTakeFirst();
  if (known) {
    if (known.document === text) return { statement: parsed.id, state: known.state };
    refuse([{ code: 'replayed', message: `statement ${parsed.id} was received before with other content` }]);
  }
  const reasons: { code: string; message: string }[] = [];
  if (parsed.issuer !== instanceActorIri(sender.origin))
    reasons.push({ code: 'issuer_not_sender', message: `the issuer ${parsed.issuer} is not the instance that signed the request` });
  if (parsed.counterparty !== instanceActorIri(ctx.config.origin))
    reasons.push({ code: 'not_addressed_to_us', message: `the statement is addressed to ${parsed.counterparty}` });
  if (parsed.currency !== ctx.config.currency)
    reasons.push({ code: 'foreign_currency', message: `the statement is in ${parsed.currency}; this instance settles in ${ctx.config.currency}` });
  if (periodEnd(parsed.period as never) > ctx.clock.now())
    reasons.push({ code: 'period_not_ended', message: `the period ${parsed.period} has not ended here` });
  const key = sender.multikeys.get(parsed.proof.verificationMethod);
  if (!key) refuse([...reasons, { code: 'unknown_verification_method', message: `the issuer's actor does not list ${parsed.proof.verificationMethod}` }]);
  const verified = await verifyStatement(parsed, { publicKey: key });
  if (!verified.ok) refuse([...reasons, ...verified.reasons]);
  const signed = verified.statement;
  if (reasons.length) refuse(reasons);

  const result = await ctx.db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`statements-in:${sender.origin}`}))`.execute(trx);
    const last = await trx
      .selectFrom('statements')
      .select(['document'])
      .where('direction', '=', 'in')
      .where('peer_origin', '=', sender.origin)
      .orderBy('sequence', 'desc')
      .executeTakeFirst();
    const chain = checkChain(signed, last ? (JSON.parse(last.document) as SignedStatement) : null);
    if (!chain.ok) refuse(chain.reasons);
    // A period already accepted (its creators credited) may be restated, never changed: the
    // restatement replaces it without crediting anyone twice.
    const accepted = await trx
      .selectFrom('statements')
      .select(['id', 'document'])
      .where('direction', '=', 'in')
      .where('peer_origin', '=', sender.origin)
      .where('period', '=', signed.period)
      .where('state', '=', 'accepted')
      .executeTakeFirst();
    const restates = accepted !== undefined && JSON.stringify((JSON.parse(accepted.document) as SignedStatement).lines) === JSON.stringify(signed.lines);
    const disputes =
      accepted === undefined
        ? await reconcile(trx, ctx, sender.origin, signed)
        : restates
          ? []
          : [{ n: 0, reason: `${signed.period} is settled by the accepted statement ${accepted.id}; a later statement may not change its lines` }];
    // Only a trusted peer's statement moves money (auto-accepted when it reconciles); a pending
    // peer's is kept, open, until the admin trusts the peer (admin.ts applies it then).
    const trusted = await isTrusted(trx, sender.origin);
    const accept = disputes.length === 0 && (restates || (ctx.config.settlementAutoAccept && trusted));
    // A later statement of the same period replaces the earlier one (a correction); an accepted
    // one only when this one restates it.
    await trx
      .updateTable('statements')
      .set({ state: 'superseded', decided_at: ctx.clock.now() })
      .where('direction', '=', 'in')
      .where('peer_origin', '=', sender.origin)
      .where('period', '=', signed.period)
      .where('state', restates ? 'in' : 'not in', restates ? ['open', 'disputed', 'accepted'] : ['accepted', 'superseded'])
      .execute();
    await trx
      .insertInto('statements')
      .values({
        id: signed.id,
        direction: 'in',
        peer_origin: sender.origin,
        sequence: signed.sequence,
        period: signed.period,
        currency: signed.currency,
        total: BigInt(signed.summary.total),
        digest: statementDigest(signed),
        document: text,
        state: disputes.length ? 'disputed' : 'open',
        dispute: disputes.length ? JSON.stringify(disputes) : null,
        created_at: ctx.clock.now(),
      })
      .execute();
    if (restates) {
      await trx.updateTable('statements').set({ state: 'accepted', decided_at: ctx.clock.now() }).where('id', '=', signed.id).execute();
      await respond(trx, ctx, sender.origin, signed.id, 'accepted', []);
    } else if (accept) await acceptIn(trx, ctx, signed.id);
    else if (disputes.length) await respond(trx, ctx, sender.origin, signed.id, 'disputed', disputes);
    await refreshAndClear(trx, ctx, sender.origin, signed.period);
    return { statement: signed.id, state: accept ? 'accepted' : disputes.length ? 'disputed' : 'open', disputes };
  });
  wakeSettlementRelay(ctx);
  return result;
}

/**
 * A Like that arrives late (re-sent to repair a dispute) may make a disputed statement
 * reconcile: it is then accepted as if it had reconciled on arrival.
 */
export async function reconcileDisputed(ctx: Context, peer: string, period: string): Promise<void> {
  const accepted = await ctx.db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`statements-in:${peer}`}))`.execute(trx);
    const row = await trx
      .selectFrom('statements')
      .select(['id', 'document'])
      .where('direction', '=', 'in')
      .where('peer_origin', '=', peer)
      .where('period', '=', period)
      .where('state', '=', 'disputed')
      .orderBy('sequence', 'desc')
      .executeTakeFirst();
    if (!row || !ctx.config.settlementAutoAccept || !(await isTrusted(trx, peer))) return false;
    const disputes = await reconcile(trx, ctx, peer, JSON.parse(row.document) as SignedStatement);
    if (disputes.length) return false;
    await acceptIn(trx, ctx, row.id);
    await refreshAndClear(trx, ctx, peer, period);
    return true;
  });
  if (accepted) wakeSettlementRelay(ctx);
}

/**
 * Every line against the incoming flattrs from that instance; answers the disagreements. A line
 * of claimed held shares (`account`) is checked against the claim instead: its flattrs' Likes
 * went to that account, so none arrived here, but the creator must be the one who links the
 * account (the half of the two-way proof this instance holds, see links/claims.ts).
 */
export async function reconcile(db: Executor, ctx: Context, peer: string, statement: SignedStatement): Promise<LineReason[]> {
  const { rows } = await sql<{ username: string; activity_ids: string[] }>`
    SELECT m.username, array_agg(i.activity_id) AS activity_ids
    FROM incoming_flattrs i JOIN things t ON t.id = i.thing_id JOIN members m ON m.id = t.owner_member_id
    WHERE i.instance_origin = ${peer} AND i.period = ${statement.period} AND i.withdrawn_at IS NULL
    GROUP BY m.username`.execute(db);
  const received = new Map(rows.map((r) => [actorIri(ctx, r.username), r.activity_ids]));
  // "<creator> <account>" for every account a member here links; "<creator> <creator>" for the
  // members themselves (an account that turned out to be on this instance claims itself).
  const claims = new Set<string>();
  const claimed = statement.lines.filter((line) => line.account !== undefined);
  if (claimed.length > 0) {
    const found = await db
      .selectFrom('members')
      .leftJoin('member_links', 'member_links.member_id', 'members.id')
      .select(['members.username', 'member_links.actor_iri'])
      .where('members.username', 'in', [...new Set(claimed.map((line) => usernameOf(ctx, line.creator) ?? ''))])
      .execute();
    for (const { username, actor_iri } of found) {
      const creator = actorIri(ctx, username);
      claims.add(`${creator} ${creator}`);
      if (actor_iri !== null) claims.add(`${creator} ${actor_iri}`);
    }
  }
  const disputes: LineReason[] = [];
  for (const line of statement.lines) {
    // No flattr is worth more than a whole budget here: a line claiming more is not believed.
    const most = BigInt(line.flattrCount) * ctx.config.maxBudget;
    if (BigInt(line.amount) > most) {
      disputes.push({
        n: line.n,
        code: 'amount_implausible',
        reason: `amount_implausible: ${formatAmount(BigInt(line.amount))} for ${line.flattrCount} flattrs is more than ${line.flattrCount} times this instance's maximum budget (${formatAmount(most)} in all)`,
      });
      continue;
    }
    if (line.account !== undefined) {
      if (!claims.has(`${line.creator} ${line.account}`)) {
        disputes.push({ n: line.n, reason: `${line.creator} does not link ${line.account} here: its held shares are not theirs` });
      }
      continue;
    }
    const ids = received.get(line.creator);
    received.delete(line.creator);
    if (!ids) {
      disputes.push({ n: line.n, reason: `no flattrs of ${line.creator} from your instance arrived here for ${statement.period}` });
    } else if (ids.length !== line.flattrCount) {
      disputes.push({ n: line.n, reason: `${line.flattrCount} flattrs stated, ${ids.length} received` });
    } else if (flattrSetDigest(ids) !== line.flattrSetDigest) {
      disputes.push({ n: line.n, reason: 'the flattrs stated are not the flattrs received (flattrSetDigest differs)' });
    }
  }
  for (const [creator, ids] of received) {
    disputes.push({ n: 0, reason: `${ids.length} flattrs of ${creator} arrived here but are in no line` });
  }
  return disputes;
}

/** The username in a member actor IRI of this instance, or undefined for any other IRI. */
function usernameOf(ctx: Context, creator: string): string | undefined {
  return parseIriOf(ctx.config.origin, creator, 'member')?.username;
}

/** Accepting a received statement: its creators are credited from the peer's account. */
export async function acceptIn(db: Executor, ctx: Context, statementId: string): Promise<void> {
  const row = await db
    .selectFrom('statements')
    .select(['peer_origin', 'document', 'period'])
    .where('id', '=', statementId)
    .where('direction', '=', 'in')
    .executeTakeFirstOrThrow();
  if (!(await isTrusted(db, row.peer_origin)))
    throw new AppError('peer_not_trusted', `${row.peer_origin} is not a trusted peer: trust it first (its statements credit nobody until then)`);
  const statement = JSON.parse(row.document) as SignedStatement;
  const now = ctx.clock.now();
  const peerAccount = await ensureAccount(db, { code: peerCode(row.peer_origin), type: 'peer', currency: ctx.config.currency, now });
  for (const line of statement.lines) {
    const amount = BigInt(line.amount);
    if (amount === 0n) continue;
    const username = usernameOf(ctx, line.creator);
    const member = username ? await db.selectFrom('members').select('id').where('username', '=', username).executeTakeFirst() : undefined;
    if (!member) throw new AppError('statement_refused', `line ${line.n}: ${line.creator} is not a member here`);
    // Pending until the settlement covering it is settled (or the credit line covers it).
    await bookPendingCredit(db, ctx, { statementId, line: line.n, peer: row.peer_origin, period: row.period, memberId: member.id, peerAccount, amount });
  }
  await sql`
    UPDATE incoming_flattrs SET state = 'paid'
    WHERE instance_origin = ${row.peer_origin} AND period = ${row.period} AND withdrawn_at IS NULL`.execute(db);
  await db.updateTable('statements').set({ state: 'accepted', decided_at: now, dispute: null }).where('id', '=', statementId).execute();
  await respond(db, ctx, row.peer_origin, statementId, 'accepted', []);
}

async function respond(db: Executor, ctx: Context, peer: string, statementId: string, outcome: 'accepted' | 'disputed', lines: LineReason[]): Promise<void> {
  const message = {
    type: 'FlattrStatementResponse',
    id: settlementMessageIri(ctx.config.origin, randomUUID()),
    issuer: instanceActorIri(ctx.config.origin),
    statement: statementId,
    outcome,
    lines,
  };
  await queueMessage(db, ctx, peer, message.id, JSON.stringify(message));
}

/**
 * The peer's answer to one of our statements. An accepted statement stays accepted (the peer
 * has credited its creators); a superseded one is history.
 */
async function onResponse(db: Executor, ctx: Context, peer: string, message: Record<string, unknown>): Promise<void> {
  const statementId = String(message.statement);
  const outcome = message.outcome;
  if (outcome !== 'accepted' && outcome !== 'disputed') throw new AppError('invalid_request', 'outcome must be accepted or disputed');
  const lines = Array.isArray(message.lines)
    ? message.lines.slice(0, 10_000).map((l: { n?: unknown; reason?: unknown }) => ({ n: Number(l?.n), reason: String(l?.reason ?? '').slice(0, 500) }))
    : [];
  const row = await db
    .selectFrom('statements')
    .select(['period', 'state'])
    .where('id', '=', statementId)
    .where('direction', '=', 'out')
    .where('peer_origin', '=', peer)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new AppError('not_found', 'no such statement was issued to your instance');
  if (row.state === 'superseded' || row.state === 'accepted') return;
  await db
    .updateTable('statements')
    .set({ state: outcome, dispute: outcome === 'disputed' ? JSON.stringify(lines) : null, decided_at: ctx.clock.now() })
    .where('id', '=', statementId)
    .execute();
  await refreshAndClear(db, ctx, peer, row.period);
}
