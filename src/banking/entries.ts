/**
 * The bank entries the import could not match, and what the admin decides for each: assign a
 * credit to a member (it becomes their deposit, once, keyed by the entry) or ignore it (a bank
 * fee, a transfer that was sent back). A decided entry stays decided.
 */
import { z } from 'zod';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { formatAmount } from '../core/money.ts';
import type { BankEntryState } from '../db/schema.ts';
import { requireMember } from '../members/service.ts';
import { bookDeposit } from '../wallet/service.ts';
import { membersByReference } from './references.ts';
import { parseRfReference } from './rf-reference.ts';
import { bankDeposit } from './statement-import.ts';

export interface BankEntryView {
  id: string;
  entry_ref: string | null;
  direction: 'credit' | 'debit';
  amount: string;
  booked_on: string | null;
  counterparty: string | null;
  remittance: string | null;
  state: BankEntryState;
  reason: string | null;
  member: string | null;
  payouts: string[];
  decided_at: string | null;
}

const STATES: readonly BankEntryState[] = ['deposited', 'paid_out', 'unmatched', 'assigned', 'ignored'];

export function parseEntryState(value: unknown): BankEntryState | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' && (STATES as readonly string[]).includes(value)) return value as BankEntryState;
  throw new AppError('invalid_request', `state must be one of ${STATES.join(', ')}`, { field: 'state' });
}

function entryId(id: string): bigint {
  if (!/^[0-9]{1,18}$/.test(id)) throw new AppError('not_found', 'no such bank entry');
  return BigInt(id);
}

const baseQuery = (ctx: Context) =>
  ctx.db.selectFrom('bank_entries').leftJoin('members', 'members.id', 'bank_entries.member_id').selectAll('bank_entries').select('members.username');

type Row = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

function view(row: Row): BankEntryView {
  return {
    id: row.id.toString(),
    entry_ref: row.entry_ref,
    direction: row.direction,
    amount: formatAmount(row.amount),
    booked_on: row.booked_on,
    counterparty: row.counterparty,
    remittance: row.remittance,
    state: row.state,
    reason: row.reason,
    member: row.username,
    payouts: row.payout_ids?.split(' ') ?? [],
    decided_at: row.decided_at?.toISOString() ?? null,
  };
}

/** Entries newest first (the unmatched ones when asked), at most 500. */
export async function listBankEntries(ctx: Context, filter: { state?: BankEntryState | undefined } = {}): Promise<BankEntryView[]> {
  let query = baseQuery(ctx);
  if (filter.state) query = query.where('bank_entries.state', '=', filter.state);
  const rows = await query.orderBy('bank_entries.id', 'desc').limit(500).execute();
  return rows.map(view);
}

async function entryView(ctx: Context, id: bigint): Promise<BankEntryView> {
  return view(await baseQuery(ctx).where('bank_entries.id', '=', id).executeTakeFirstOrThrow());
}

/** POST /api/v1/admin/bank/entries/{id}/assign: the member by username or by transfer reference (checked when used). */
export const AssignEntryInput = z.object({ username: z.string().optional(), reference: z.string().optional() });
export type AssignEntryInput = z.output<typeof AssignEntryInput>;

/**
 * Books an unmatched credit as a deposit of the member named by username or by their transfer
 * reference (its check digits verified). The same assignment again changes nothing.
 */
export async function assignBankEntry(ctx: Context, id: string, input: AssignEntryInput): Promise<BankEntryView> {
  const key = entryId(id);
  let member: { id: bigint; username: string };
  if (input.reference !== undefined && input.reference !== '') {
    const reference = parseRfReference(input.reference);
    const found = (await membersByReference(ctx.db, [reference])).get(reference);
    if (!found) throw new AppError('not_found', `no member has the transfer reference ${reference}`, { field: 'reference' });
    member = found;
  } else if (input.username !== undefined && input.username !== '') {
    member = await requireMember(ctx, input.username);
  } else {
    throw new AppError('invalid_request', 'name the member: username, or their transfer reference', { field: 'username' });
  }
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const entry = await trx.selectFrom('bank_entries').selectAll().where('id', '=', key).forUpdate().executeTakeFirst();
    if (!entry) throw new AppError('not_found', 'no such bank entry');
    if (entry.state === 'assigned' && entry.member_id === member.id) return;
    if (entry.state !== 'unmatched') throw new AppError('entry_decided', `this entry is ${entry.state} already`);
    if (entry.direction !== 'credit') throw new AppError('invalid_request', 'a debit leaves the bank account: it cannot be a deposit (ignore it instead)');
    await bookDeposit(ctx, trx, bankDeposit({ key: entry.entry_key, ref: entry.entry_ref ?? entry.booked_on, amount: entry.amount }, member));
    await trx.updateTable('bank_entries').set({ state: 'assigned', member_id: member.id, decided_at: now }).where('id', '=', key).execute();
  });
  return entryView(ctx, key);
}

/** Sets an unmatched entry aside: it books nothing. Ignoring it again changes nothing. */
export async function ignoreBankEntry(ctx: Context, id: string): Promise<BankEntryView> {
  const key = entryId(id);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const entry = await trx.selectFrom('bank_entries').select(['state']).where('id', '=', key).forUpdate().executeTakeFirst();
    if (!entry) throw new AppError('not_found', 'no such bank entry');
    if (entry.state === 'ignored') return;
    if (entry.state !== 'unmatched') throw new AppError('entry_decided', `this entry is ${entry.state} already`);
    await trx.updateTable('bank_entries').set({ state: 'ignored', decided_at: now }).where('id', '=', key).execute();
  });
  return entryView(ctx, key);
}
