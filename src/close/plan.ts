/**
 * The monthly close as a pure function (product rules 6 and 7), for one period.
 * The database runs the same rules set-based in SQL (run.ts); tests hold the two against each
 * other on random months. Nothing here touches a database.
 */
import { feeOf, splitEvenly } from '../core/money.ts';

export interface PlanMember {
  id: string;
  budget: bigint;
  balance: bigint;
  /** Owners of the things this member flattred this period, earliest flattr first. */
  flattrs: { flattrId: string; owner: string }[];
}

export interface PlanInput {
  members: PlanMember[];
  feePpm: bigint;
  idleBudget: 'charity' | 'keep';
  charity: string | null;
}

export type Disposition = 'paid' | 'held' | 'charity';

export interface PlannedShare {
  flattrId: string;
  payer: string;
  recipient: string;
  gross: bigint;
  fee: bigint;
  net: bigint;
  disposition: Disposition;
}

export interface PlannedCharge {
  member: string;
  charged: bigint;
  funded: boolean;
  idle: boolean;
}

export interface Plan {
  charges: PlannedCharge[];
  shares: PlannedShare[];
  totals: { charged: bigint; fees: bigint; paid: bigint; held: bigint; toCharity: bigint };
}

/** What a member is charged: the budget, or what the wallet holds if that is less. */
export function chargeOf(member: Pick<PlanMember, 'budget' | 'balance'>): bigint {
  const available = member.balance > 0n ? member.balance : 0n;
  return member.budget < available ? member.budget : available;
}

export function planClose(input: PlanInput): Plan {
  const charges: PlannedCharge[] = input.members.map((m) => {
    const fundable = chargeOf(m);
    const idle = m.flattrs.length === 0;
    // An idle budget goes to charity (unless the instance keeps it); the charity does not pay itself.
    const idleCharged = input.idleBudget === 'charity' && m.id !== input.charity ? fundable : 0n;
    return { member: m.id, charged: idle ? idleCharged : fundable, funded: fundable > 0n, idle };
  });
  const funded = new Set(charges.filter((c) => c.funded).map((c) => c.member));
  const shares: PlannedShare[] = [];
  input.members.forEach((m, i) => {
    if (m.flattrs.length === 0) return;
    const amounts = splitEvenly((charges[i] as PlannedCharge).charged, m.flattrs.length);
    m.flattrs.forEach((f, j) => {
      const gross = amounts[j] as bigint;
      const toCharity = f.owner === input.charity;
      const fee = toCharity ? 0n : feeOf(gross, input.feePpm);
      const disposition: Disposition = toCharity ? 'charity' : funded.has(f.owner) ? 'paid' : 'held';
      shares.push({ flattrId: f.flattrId, payer: m.id, recipient: f.owner, gross, fee, net: gross - fee, disposition });
    });
  });
  const sum = (values: bigint[]) => values.reduce((a, b) => a + b, 0n);
  const net = (d: Disposition) => sum(shares.filter((s) => s.disposition === d).map((s) => s.net));
  return {
    charges,
    shares,
    totals: {
      charged: sum(charges.map((c) => c.charged)),
      fees: sum(shares.map((s) => s.fee)),
      paid: net('paid'),
      held: net('held'),
      toCharity: net('charity') + sum(charges.filter((c) => c.idle).map((c) => c.charged)),
    },
  };
}
