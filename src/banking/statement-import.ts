/**
 * Importing the bank's statement (camt.053): each booked credit that carries a member's transfer
 * reference becomes a deposit into that member's wallet (src/wallet/service.ts bookDeposit),
 * each booked debit whose EndToEndIds are payouts of one of our SEPA files marks them paid, and
 * everything else is kept as unmatched for the admin to assign or ignore.
 *
 * The whole file is one transaction: a refused file (wrong account, wrong currency, not valid)
 * records nothing, and an accepted one records all of it. Every entry is recorded once by its key
 * (src/banking/entry-key.ts); importing a file again, or one that overlaps, lists those entries
 * as duplicates and books nothing new. Two imports at once meet at the entry_key unique index.
 */
import type { Transaction } from 'kysely';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { formatAmount } from '../core/money.ts';
import type { BankEntryState, DB } from '../db/schema.ts';
import { bookDeposit, bookPayoutSent } from '../wallet/service.ts';
import { type CamtDocument, checkCamt053Schema, parseCamt053, statementText } from './camt053.ts';
import { type EntryItem, entryItems } from './entry-key.ts';
import { friendlyIban } from './iban.ts';
import { membersByReference, type ReferencedMember } from './references.ts';
import { electronicRf, findRfReferences, isValidRfReference } from './rf-reference.ts';

export interface ImportedEntry {
  /** The bank entry's id here (for assign and ignore), when recorded. */
  id: string | null;
  entry_ref: string | null;
  direction: 'credit' | 'debit';
  amount: string;
  booked_on: string | null;
  member: string | null;
  payouts: string[];
  counterparty: string | null;
  remittance: string | null;
  state: BankEntryState | null;
  reason: string | null;
}

export interface ImportResult {
  import_id: string | null;
  message_id: string;
  version: string;
  matched: ImportedEntry[];
  unmatched: ImportedEntry[];
  duplicates: ImportedEntry[];
  /** Entries not booked by the bank yet (pending, information) or of no amount: not recorded, so a later statement imports them. */
  skipped: ImportedEntry[];
}

/** Reads, checks and imports a camt.053 file (its bytes as uploaded). */
export async function importBankStatement(ctx: Context, bytes: Uint8Array): Promise<ImportResult> {
  const bank = ctx.config.bank;
  if (!bank)
    throw new AppError('bank_not_configured', 'this instance has no bank account: set FARTHING_BANK_IBAN and FARTHING_BANK_HOLDER to import its statements');
  const xml = statementText(bytes);
  const document = parseCamt053(xml);
  // Cheap refusals first; libxml2 (the slow part) only for a file of this account.
  checkAccountAndCurrency(document, bank.iban, ctx.config.currency);
  await checkCamt053Schema(xml, document.version);
  const items = document.statements.flatMap((s) => entryItems(bank.iban, s.entries.filter(isBooked), ctx.config.currency));
  const skipped = document.statements
    .flatMap((s) => s.entries.filter((e) => !isBooked(e)))
    .map((e) => ({
      ...describeEntry(e.acctSvcrRef ?? e.ntryRef, e.direction, e.amount, e.bookedOn, null, null),
      reason: e.amount === 0n ? 'an entry of no amount' : `not booked by the bank yet (status ${e.status || 'none'}); a later statement brings it booked`,
    }));
  return ctx.db.transaction().execute(async (trx) => {
    const result = await importItems(ctx, trx, document, items);
    return { ...result, skipped };
  });
}

function isBooked(entry: { status: string; amount: bigint }): boolean {
  return entry.status === 'BOOK' && entry.amount > 0n;
}

/** A statement of another account, or in another currency, is refused as a whole. */
function checkAccountAndCurrency(document: CamtDocument, iban: string, currency: string): void {
  for (const statement of document.statements) {
    const account = statement.account.replace(/\s+/g, '').toUpperCase();
    if (account !== iban) {
      throw new AppError(
        'statement_wrong_account',
        `statement ${statement.id || '(no id)'} is of the account ${statement.account || '(none named)'}, not of this instance's account ${friendlyIban(iban)} (FARTHING_BANK_IBAN); nothing was imported`,
      );
    }
    if (statement.currency !== null && statement.currency !== currency) {
      throw new AppError(
        'statement_wrong_currency',
        `statement ${statement.id || '(no id)'} is of an account in ${statement.currency}; this instance keeps ${currency}; nothing was imported`,
      );
    }
    const foreign = statement.entries.find((e) => e.currency !== currency);
    if (foreign) {
      throw new AppError('statement_wrong_currency', `entry ${foreign.n} is in ${foreign.currency}; this instance keeps ${currency}; nothing was imported`);
    }
  }
}

function describeEntry(
  ref: string | null,
  direction: 'credit' | 'debit',
  amount: bigint,
  bookedOn: string | null,
  counterparty: string | null,
  remittance: string | null,
): ImportedEntry {
  return {
    id: null,
    entry_ref: ref,
    direction,
    amount: formatAmount(amount),
    booked_on: bookedOn?.slice(0, 10) ?? null,
    member: null,
    payouts: [],
    counterparty,
    remittance,
    state: null,
    reason: null,
  };
}

function remittanceOf(item: EntryItem): string | null {
  const parts = item.transactions.flatMap((t) => [...t.structuredRefs, ...t.unstructured]);
  return parts.length ? parts.join(' / ').slice(0, 500) : null;
}

/** The member references an item carries: structured ones first, then any written in the text. */
function referencesOf(item: EntryItem): { valid: string[]; mistyped: string[] } {
  const valid: string[] = [];
  const mistyped: string[] = [];
  for (const tx of item.transactions) {
    for (const ref of tx.structuredRefs) {
      const reference = electronicRf(ref);
      if (!reference.startsWith('RF')) continue;
      if (isValidRfReference(reference)) valid.push(reference);
      else mistyped.push(reference);
    }
    // Lines of unstructured text may split a reference; read them as one.
    valid.push(...findRfReferences(tx.unstructured.join(' ')));
  }
  return { valid: [...new Set(valid)], mistyped };
}

interface Decision {
  state: BankEntryState;
  reason: string | null;
  member?: ReferencedMember;
  payouts?: { id: string; amount: bigint; state: string }[];
}

function decideCredit(item: EntryItem, members: Map<string, ReferencedMember>): Decision {
  if (item.entry.reversal) return { state: 'unmatched', reason: 'a reversal of an earlier debit (a returned payout, say): assign it or ignore it' };
  const { valid, mistyped } = referencesOf(item);
  const found = [...new Map(valid.flatMap((r) => members.get(r) ?? []).map((m) => [m.id, m])).values()];
  if (found.length === 1) return { state: 'deposited', reason: null, member: found[0] as ReferencedMember };
  if (found.length > 1) return { state: 'unmatched', reason: `carries the references of ${found.length} members (${found.map((m) => m.username).join(', ')})` };
  if (mistyped.length) return { state: 'unmatched', reason: `the reference ${mistyped[0]} has check digits that do not match (mistyped by the payer)` };
  if (valid.length) return { state: 'unmatched', reason: `the reference ${valid[0]} is no member's` };
  return { state: 'unmatched', reason: "carries no member's transfer reference" };
}

function decideDebit(item: EntryItem, payouts: Map<string, { id: string; amount: bigint; state: string }>): Decision {
  if (item.entry.reversal) return { state: 'unmatched', reason: 'a reversal of an earlier credit: decide by hand' };
  const ids = [...new Set(item.transactions.flatMap((t) => t.endToEndIds))];
  if (ids.length === 0) return { state: 'unmatched', reason: 'a debit without an EndToEndId: not a payout of a SEPA file of this instance' };
  const unknown = ids.find((id) => !payouts.has(id));
  if (unknown) return { state: 'unmatched', reason: `the EndToEndId ${unknown} is not a payout of a SEPA file of this instance` };
  const matched = ids.map((id) => payouts.get(id) as { id: string; amount: bigint; state: string });
  const total = matched.reduce((sum, p) => sum + p.amount, 0n);
  if (total !== item.amount)
    return { state: 'unmatched', reason: `the debit of ${formatAmount(item.amount)} differs from the payouts it names (${formatAmount(total)})` };
  const requested = matched.find((p) => p.state === 'requested');
  if (requested) return { state: 'unmatched', reason: `payout ${requested.id} was never exported` };
  return { state: 'paid_out', reason: matched.every((p) => p.state === 'paid') ? 'the payouts were already marked paid' : null, payouts: matched };
}

async function importItems(ctx: Context, trx: Transaction<DB>, document: CamtDocument, items: EntryItem[]): Promise<Omit<ImportResult, 'skipped'>> {
  const now = ctx.clock.now();
  const keys = items.map((i) => i.key);
  const earlier = new Map<string, { id: bigint; state: BankEntryState; member: string | null; payout_ids: string | null }>();
  for (let at = 0; at < keys.length; at += 1000) {
    const rows = await trx
      .selectFrom('bank_entries')
      .leftJoin('members', 'members.id', 'bank_entries.member_id')
      .select(['bank_entries.id', 'bank_entries.entry_key', 'bank_entries.state', 'members.username as member', 'bank_entries.payout_ids'])
      .where('bank_entries.entry_key', 'in', keys.slice(at, at + 1000))
      .execute();
    for (const r of rows) earlier.set(r.entry_key, { id: r.id, state: r.state, member: r.member, payout_ids: r.payout_ids });
  }
  const fresh = items.filter((i) => !earlier.has(i.key));
  const members = await membersByReference(
    trx,
    fresh.filter((i) => i.entry.direction === 'credit').flatMap((i) => referencesOf(i).valid),
  );
  const endToEndIds = [...new Set(fresh.filter((i) => i.entry.direction === 'debit').flatMap((i) => i.transactions.flatMap((t) => t.endToEndIds)))];
  const payouts = new Map<string, { id: string; amount: bigint; state: string }>();
  for (let at = 0; at < endToEndIds.length; at += 1000) {
    const rows = await trx
      .selectFrom('payouts')
      .select(['id', 'amount', 'state', 'end_to_end_id'])
      .where('end_to_end_id', 'in', endToEndIds.slice(at, at + 1000))
      .forUpdate()
      .execute();
    for (const r of rows) payouts.set(r.end_to_end_id as string, r);
  }

  const imported = await trx
    .insertInto('bank_imports')
    .values({ message_id: document.messageId.slice(0, 35), version: document.version, imported_at: now, matched: 0, unmatched: 0, duplicates: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  const matched: ImportedEntry[] = [];
  const unmatched: ImportedEntry[] = [];
  const duplicates: ImportedEntry[] = [];
  for (const item of items) {
    const { entry } = item;
    const view = describeEntry(
      item.ref,
      entry.direction,
      item.amount,
      entry.bookedOn,
      item.transactions.find((t) => t.counterpartyName)?.counterpartyName ?? null,
      remittanceOf(item),
    );
    const before = earlier.get(item.key);
    if (before) {
      duplicates.push({
        ...view,
        id: before.id.toString(),
        state: before.state,
        member: before.member,
        payouts: before.payout_ids?.split(' ') ?? [],
        reason: 'imported before',
      });
      continue;
    }
    const decision = entry.direction === 'credit' ? decideCredit(item, members) : decideDebit(item, payouts);
    const inserted = await trx
      .insertInto('bank_entries')
      .values({
        entry_key: item.key,
        entry_ref: item.ref?.slice(0, 100) ?? null,
        import_id: imported.id,
        direction: entry.direction,
        amount: item.amount,
        booked_on: entry.bookedOn?.slice(0, 10) ?? null,
        counterparty: view.counterparty?.slice(0, 140) ?? null,
        remittance: view.remittance,
        state: decision.state,
        reason: decision.reason,
        member_id: decision.member?.id ?? null,
        payout_ids: decision.payouts?.map((p) => p.id).join(' ') ?? null,
        decided_at: decision.state === 'unmatched' ? null : now,
      })
      // Another import of the same entry got there first (it waited on the unique index).
      .onConflict((oc) => oc.column('entry_key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) {
      duplicates.push({ ...view, reason: 'imported meanwhile by another upload' });
      continue;
    }
    const done = { ...view, id: inserted.id.toString(), state: decision.state, reason: decision.reason };
    if (decision.state === 'deposited' && decision.member) {
      await bookDeposit(ctx, trx, bankDeposit(item, decision.member));
      matched.push({ ...done, member: decision.member.username });
    } else if (decision.state === 'paid_out' && decision.payouts) {
      for (const payout of decision.payouts) {
        if (payout.state === 'exported')
          await bookPayoutSent(ctx, trx, payout, `bank statement ${item.ref ?? entry.bookedOn?.slice(0, 10) ?? ''}`.trim().slice(0, 200));
      }
      matched.push({ ...done, payouts: decision.payouts.map((p) => p.id) });
    } else {
      unmatched.push(done);
    }
  }
  const recorded = matched.length + unmatched.length;
  if (recorded === 0) {
    // Nothing new: the file leaves no trace (a re-import records nothing).
    await trx.deleteFrom('bank_imports').where('id', '=', imported.id).execute();
  } else {
    await trx
      .updateTable('bank_imports')
      .set({ matched: matched.length, unmatched: unmatched.length, duplicates: duplicates.length })
      .where('id', '=', imported.id)
      .execute();
  }
  return {
    import_id: recorded === 0 ? null : imported.id.toString(),
    message_id: document.messageId,
    version: `camt.053.${document.version}`,
    matched,
    unmatched,
    duplicates,
  };
}

/** The deposit a bank entry books: its idempotency key is the entry's, so it books once whatever happens. */
export function bankDeposit(
  item: { key: string; ref: string | null; amount: bigint; entry?: { bookedOn: string | null } },
  member: { id: bigint; username: string },
) {
  const reference = `bank transfer ${item.ref ?? item.entry?.bookedOn?.slice(0, 10) ?? ''}`.trim().slice(0, 200);
  return { memberId: member.id, username: member.username, amount: item.amount, reference, idempotencyKey: `deposit:bank:${item.key}` };
}
