/**
 * The one claim-with-lease relay behind every outbox (Likes and notices to Fedify's queue,
 * published posts, settlement messages, webhooks). Rows are written in the transaction of
 * whatever caused them; a relay claims a batch of due rows (FOR UPDATE SKIP LOCKED) under a
 * lease, hands each to a delivery function, records the outcome (done, retry at a time, or
 * failed) and releases the lease. No transaction is held while delivering (on PGlite, with one
 * connection, a delivery that writes, such as Fedify's enqueue, would wait for it forever).
 *
 * Delivery is at least once: a process that dies mid-batch (or a delivery that throws) leaves
 * its lease, which runs out, and the row is claimed and delivered again; receivers count each
 * message once. Several processes never claim a row whose lease runs, so they never make the
 * same attempt twice.
 *
 * Which clock counts (the one rule, for every relay):
 * - Leases (claimed_until) are about processes dying: they are set and compared on the
 *   database's clock, now(), which every process sharing the database reads alike, whatever
 *   its own clock says.
 * - Due times and retry schedules (the due column, next attempt after a failure) are on the
 *   instance clock (ctx.clock), so FARTHING_NOW shifts them and a manual clock in tests moves
 *   them. A row never attempted is due at once, whatever its due time: it may have been queued
 *   by another process (the CLI) whose clock is not this one's.
 * - A relay without a schedule (a hand-over to Fedify's queue, which retries on its own) has no
 *   due time: a pending row is due, and a failed hand-over is retried when its lease runs out.
 *
 * Order: rows are claimed in the relay's order and, unless `concurrent`, delivered one after
 * another in it. With `group`, rows of one group (a peer) go strictly one at a time in id order:
 * a row is due only when no earlier pending row of its group is left (claimed, backing off or
 * not yet due), so a failing message holds back the ones after it.
 */
import { type Kysely, sql } from 'kysely';
import type { Context } from '../context.ts';

/** What one delivery answered; `status` is recorded when the relay keeps one. */
export type Attempt = { ok: true; status?: string } | { ok: false; status: string };

/** What the relay decided after an attempt (`attempts` counts this one). */
export type Outcome = { kind: 'done'; attempts: number } | { kind: 'retry'; attempts: number; at: Date } | { kind: 'failed'; attempts: number };

export interface RetrySchedule {
  /** The column of the row's due time (instance clock). */
  dueColumn: string;
  /** The column counting attempts made (0: never attempted, due at once). */
  attemptsColumn: string;
  /** Seconds to wait after the `attempts`-th failed attempt; undefined: the row has failed. */
  retrySeconds(attempts: number): number | undefined;
}

export interface RelaySpec<Row extends { id: unknown }> {
  /** For logs. */
  name: string;
  /** The outbox table: a primary key `id` and a lease column `claimed_until` (timestamptz). */
  table: string;
  /** SQL text (constant, never input): the row under `alias` still has work to do. */
  pending(alias: string): string;
  /** SQL text over alias `r`: the order rows are claimed (and delivered) in. */
  orderBy: string;
  /** A column: rows with one value of it are delivered strictly one at a time, in id order. */
  group?: string;
  /** Without one, a failed attempt is retried when its lease runs out. */
  schedule?: RetrySchedule;
  batch: number;
  leaseSeconds: number;
  /** Deliver the rows of a batch at the same time (only where their order does not matter). */
  concurrent?: boolean;
  /** The claimed rows with what delivery needs, in delivery order. */
  load(ids: Row['id'][]): Promise<Row[]>;
  deliver(row: Row, startedAt: Date): Promise<Attempt>;
  /**
   * The columns recording an outcome. The relay adds the release of the lease and, with a
   * schedule, the attempts count and (for a retry) the due time.
   */
  record(row: Row, outcome: Outcome, attempt: Attempt, startedAt: Date): Record<string, unknown>;
}

export interface RelayPass {
  /** Rows claimed (and attempted, or left to their lease when the delivery threw). */
  claimed: number;
  /** Rows delivered. */
  done: number;
}

type Result = 'done' | 'retry' | 'failed' | 'kept';

function claimSql(spec: RelaySpec<{ id: unknown }>, now: Date) {
  const table = sql.table(spec.table);
  const schedule = spec.schedule;
  const due = schedule ? sql`AND (${sql.ref(`r.${schedule.attemptsColumn}`)} = 0 OR ${sql.ref(`r.${schedule.dueColumn}`)} <= ${now})` : sql``;
  const inTurn = spec.group
    ? sql`AND NOT EXISTS (SELECT 1 FROM ${table} e WHERE ${sql.ref(`e.${spec.group}`)} = ${sql.ref(`r.${spec.group}`)}
                            AND (${sql.raw(spec.pending('e'))}) AND e.id < r.id)`
    : sql``;
  return sql<{ id: unknown }>`
    WITH due AS (
      SELECT r.id FROM ${table} r
      WHERE (${sql.raw(spec.pending('r'))}) AND (r.claimed_until IS NULL OR r.claimed_until <= now()) ${due} ${inTurn}
      ORDER BY ${sql.raw(spec.orderBy)} LIMIT ${spec.batch}
      FOR UPDATE OF r SKIP LOCKED)
    UPDATE ${table} t SET claimed_until = now() + make_interval(secs => ${spec.leaseSeconds})
    FROM due WHERE t.id = due.id
    RETURNING t.id`;
}

/** Claims a batch of due rows under a lease; answers their ids. */
export async function claim<Row extends { id: unknown }>(ctx: Context, spec: RelaySpec<Row>): Promise<Row['id'][]> {
  const { rows } = await claimSql(spec, ctx.clock.now()).execute(ctx.db);
  return rows.map((r) => r.id as Row['id']);
}

async function attemptOne<Row extends { id: unknown }>(ctx: Context, spec: RelaySpec<Row>, row: Row): Promise<Result> {
  const startedAt = ctx.clock.now();
  let attempt: Attempt;
  try {
    attempt = await spec.deliver(row, startedAt);
  } catch (error) {
    ctx.log.error({ err: error, relay: spec.name, row: String(row.id) }, `${spec.name}: delivery failed; tried again when its lease runs out`);
    return 'kept';
  }
  const schedule = spec.schedule;
  if (!attempt.ok && !schedule) {
    ctx.log.warn({ relay: spec.name, row: String(row.id), status: attempt.status }, `${spec.name}: delivery failed; tried again when its lease runs out`);
    return 'kept';
  }
  const made = schedule ? Number((row as Record<string, unknown>)[schedule.attemptsColumn] ?? 0) : 0;
  const attempts = made + 1;
  let outcome: Outcome;
  if (attempt.ok) outcome = { kind: 'done', attempts };
  else {
    const wait = schedule?.retrySeconds(attempts);
    outcome = wait === undefined ? { kind: 'failed', attempts } : { kind: 'retry', attempts, at: new Date(startedAt.getTime() + wait * 1000) };
  }
  const set: Record<string, unknown> = { ...spec.record(row, outcome, attempt, startedAt), claimed_until: null };
  if (schedule) {
    set[schedule.attemptsColumn] = attempts;
    if (outcome.kind === 'retry') set[schedule.dueColumn] = outcome.at;
  }
  await (ctx.db as unknown as Kysely<any>).updateTable(spec.table).set(set).where('id', '=', row.id).execute();
  return outcome.kind;
}

/**
 * Delivers what is due now: claims batches until none is left (a short batch ends it, unless
 * a delivery let the next row of a group take its turn). Answers what it claimed and delivered.
 */
export async function relayDue<Row extends { id: unknown }>(ctx: Context, spec: RelaySpec<Row>): Promise<RelayPass> {
  const pass: RelayPass = { claimed: 0, done: 0 };
  for (;;) {
    const ids = await claim(ctx, spec);
    if (ids.length === 0) return pass;
    pass.claimed += ids.length;
    const rows = await spec.load(ids);
    let results: Result[];
    if (spec.concurrent) results = await Promise.all(rows.map((row) => attemptOne(ctx, spec, row)));
    else {
      results = [];
      for (const row of rows) results.push(await attemptOne(ctx, spec, row));
    }
    const done = results.filter((r) => r === 'done').length;
    pass.done += done;
    if (ids.length < spec.batch && !(spec.group && done > 0)) return pass;
  }
}
