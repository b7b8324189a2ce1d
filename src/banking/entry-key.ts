/**
 * Which entries of a statement are "the same" as ones imported before: the idempotency key of a
 * bank entry, so that a statement imported twice, or one that overlaps an earlier one (a monthly
 * statement after the daily ones, say), books nothing twice.
 *
 * - With the bank's own reference for the entry (Ntry/AcctSvcrRef, unique for the account at the
 *   bank), the key is that reference.
 * - Without it, the key is a fingerprint of what identifies the payment (direction, amount,
 *   currency, booking and value day, the transaction references, the remittance text and the
 *   counterparty's IBAN) and the how-manieth identical entry of the file it is: two identical
 *   transfers on one day are #1 and #2, and a file that holds them again finds both.
 * - NtryRef is not used: many banks number entries within one statement (1, 2, 3 …), so the
 *   same number means another entry in the next statement, and a renumbered overlapping
 *   statement would book everything twice. It is kept for people to read.
 *
 * The one case the fingerprint cannot tell apart: identical transfers on one day split over two
 * files that each hold only some of them (two files each with one of two identical payments book
 * one). The import then lists the second as a duplicate, so the admin sees it and records it by
 * hand; booking twice would instead create money, which is worse.
 */
import { createHash } from 'node:crypto';
import { type CamtEntry, type CamtTransaction, parseStatementAmount } from './camt053.ts';

export interface EntryItem {
  /** The idempotency key (unique in bank_entries). */
  key: string;
  /** The bank's reference for people: AcctSvcrRef, else NtryRef. */
  ref: string | null;
  entry: CamtEntry;
  amount: bigint;
  /** The transactions this item is about (all of the entry's, or one of a split batch). */
  transactions: CamtTransaction[];
}

function fingerprint(entry: CamtEntry): string {
  const compact = (texts: string[]) => texts.join('').replace(/\s+/g, '').toUpperCase();
  const facts = [
    entry.direction,
    entry.amount.toString(),
    entry.currency,
    entry.bookedOn?.slice(0, 10) ?? null,
    entry.valueOn?.slice(0, 10) ?? null,
    entry.reversal,
    entry.transactions.map((t) => [t.amount?.value ?? null, t.endToEndIds, t.ids, compact(t.structuredRefs), compact(t.unstructured), t.counterpartyIban]),
  ];
  return createHash('sha256').update(JSON.stringify(facts)).digest('base64url').slice(0, 32);
}

/**
 * The items of a statement's entries, keyed. An entry that books a batch (several transactions
 * that each state their amount, adding up exactly to the entry's) gives one item per
 * transaction, so each payer's transfer is matched on its own; any other entry is one item.
 */
export function entryItems(account: string, entries: readonly CamtEntry[], currency: string): EntryItem[] {
  const seen = new Map<string, number>();
  const items: EntryItem[] = [];
  for (const entry of entries) {
    let key: string;
    if (entry.acctSvcrRef) key = `${account}:svcr:${entry.acctSvcrRef}`;
    else {
      const print = fingerprint(entry);
      const n = (seen.get(print) ?? 0) + 1;
      seen.set(print, n);
      key = `${account}:fp:${print}:${n}`;
    }
    const ref = entry.acctSvcrRef ?? entry.ntryRef;
    const txs = entry.transactions;
    const split = txs.length > 1 && txs.every((t) => t.amount && t.amount.currency === currency);
    const amounts = split ? txs.map((t) => transactionAmount(t)) : [];
    if (split && amounts.every((a) => a !== null && a > 0n) && amounts.reduce<bigint>((s, a) => s + (a ?? 0n), 0n) === entry.amount) {
      for (const [i, t] of txs.entries()) items.push({ key: `${key}/${i + 1}`, ref, entry, amount: amounts[i] as bigint, transactions: [t] });
    } else {
      items.push({ key, ref, entry, amount: entry.amount, transactions: txs });
    }
  }
  return items;
}

/** A transaction's own amount in micro-units, or null when it has none that money.ts takes. */
function transactionAmount(t: CamtTransaction): bigint | null {
  try {
    return t.amount ? parseStatementAmount(t.amount.value, 'a transaction') : null;
  } catch {
    return null;
  }
}
