/**
 * Builds months directly through the services (no HTTP), for tests that need many members:
 * property tests of the close, races, the crash test and benchmarks of the rules.
 */
import { sql } from 'kysely';
import type { PlanInput, PlanMember } from '../../src/close/plan.ts';
import type { Caller, Context } from '../../src/context.ts';
import type { Period } from '../../src/core/period.ts';
import { registerMember } from '../../src/members/service.ts';
import { scopesForRole } from '../../src/oauth/scopes.ts';

export async function addMember(ctx: Context, username: string, role: 'member' | 'admin' = 'member'): Promise<Caller> {
  const m = await registerMember(ctx, { username, password: `${username}-password` }, { bypassRegistration: true, role });
  return { id: m.id, username: m.username, role, scopes: scopesForRole(role) };
}

/** What the pure plan needs, read from the database as it stands just before the close. */
export async function planInputFromDatabase(ctx: Context, period: Period): Promise<PlanInput> {
  const { rows: members } = await sql<{ id: bigint; budget: bigint; balance: bigint }>`
    SELECT m.id,
      (SELECT amount FROM budgets b WHERE b.member_id = m.id AND b.period <= ${period} ORDER BY period DESC LIMIT 1) AS budget,
      (COALESCE((SELECT sum(amount) FROM transfers WHERE credit_account_id = a.id), 0)
     - COALESCE((SELECT sum(amount) FROM transfers WHERE debit_account_id = a.id), 0))::bigint AS balance
    FROM members m JOIN accounts a ON a.member_id = m.id
    ORDER BY m.id`.execute(ctx.db);
  const { rows: flattrs } = await sql<{ id: string; member_id: bigint; owner: bigint }>`
    SELECT f.id, f.member_id, t.owner_member_id AS owner FROM flattrs f JOIN things t ON t.id = f.thing_id
    WHERE f.period = ${period} AND f.withdrawn_at IS NULL ORDER BY f.created_at, f.seq`.execute(ctx.db);
  const charity = await ctx.db.selectFrom('settings').select('value').where('key', '=', 'charity_member_id').executeTakeFirst();
  const planMembers: PlanMember[] = members
    .filter((m) => m.budget !== null)
    .map((m) => ({
      id: m.id.toString(),
      budget: m.budget,
      balance: m.balance,
      flattrs: flattrs.filter((f) => f.member_id === m.id).map((f) => ({ flattrId: f.id, owner: f.owner.toString() })),
    }));
  return {
    members: planMembers,
    feePpm: ctx.config.feePpm,
    idleBudget: ctx.config.idleBudget,
    charity: charity ? String(charity.value) : null,
  };
}
