/**
 * Members' permanent transfer references: made on first use (a random ISO 11649 reference, so
 * neighbours' references are not one typo apart), never changed, and looked up when a bank
 * transfer carries one.
 */
import type { Executor } from '../ledger/accounts.ts';
import { randomMemberReference } from './rf-reference.ts';

/** The member's reference, made now if they have none yet. */
export async function memberReference(db: Executor, memberId: bigint, now: Date): Promise<string> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const existing = await db.selectFrom('transfer_references').select('reference').where('member_id', '=', memberId).executeTakeFirst();
    if (existing) return existing.reference;
    // No conflict target: a member who got one meanwhile, or a reference already taken (one in
    // 36^10), both insert nothing, and the loop looks again.
    await db
      .insertInto('transfer_references')
      .values({ member_id: memberId, reference: randomMemberReference(), created_at: now })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  throw new Error(`could not make a transfer reference for member ${memberId}`);
}

export interface ReferencedMember {
  id: bigint;
  username: string;
  reference: string;
}

/** The members whose references are among `references` (electronic format). */
export async function membersByReference(db: Executor, references: readonly string[]): Promise<Map<string, ReferencedMember>> {
  if (references.length === 0) return new Map();
  const rows = await db
    .selectFrom('transfer_references')
    .innerJoin('members', 'members.id', 'transfer_references.member_id')
    .select(['members.id', 'members.username', 'transfer_references.reference'])
    .where('transfer_references.reference', 'in', [...new Set(references)])
    .execute();
  return new Map(rows.map((r) => [r.reference, r]));
}
