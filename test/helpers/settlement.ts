/**
 * Two networked instances that settle with each other (A: ann, carl; B: bob, bea), with one flattr
 * each way in November, and what the settlement tests do with them.
 */
import { signRequest } from '@fedify/fedify';
import type { Test } from 'tap';
import { INSTANCE_ACTOR } from '../../src/activitypub/federation.ts';
import type { Period } from '../../src/core/period.ts';
import { checkLedger } from '../../src/ledger/check.ts';
import { withProof } from '../../src/settlement/channel.ts';
import { statementDigest } from '../../src/settlement/digest.ts';
import { buildStatement, type SignedStatement, signStatement } from '../../src/settlement/statement.ts';
import { thing } from './instance.ts';
import { eventually, type NetworkedInstance, openFront, startNetworked } from './network.ts';

export async function balanced(t: Test, inst: NetworkedInstance, when: string) {
  const check = await checkLedger(inst.ctx.db);
  t.ok(check.balanced, `${inst.origin} ledger balanced ${when}${check.balanced ? '' : `: ${JSON.stringify(check.checks.filter((c) => !c.ok))}`}`);
}

export async function settlementOf(inst: NetworkedInstance, peer: NetworkedInstance, p: string) {
  const list = await inst.api('GET', `/api/v1/admin/settlements?peer=${encodeURIComponent(peer.origin)}&period=${p}`, { token: inst.adminToken });
  return list.body.items[0];
}

export async function walletOf(inst: NetworkedInstance, token: string) {
  return (await inst.api('GET', '/api/v1/me', { token })).body.balance as string;
}

/** Spendable plus pending: what a member was credited, whether or not the settlement has cleared it. */
export async function creditedOf(inst: NetworkedInstance, token: string) {
  const me = (await inst.api('GET', '/api/v1/me', { token })).body as { balance: string; pending: string };
  return (Number(me.balance) + Number(me.pending)).toFixed(2);
}

/**
 * Two instances that trust each other for settlement from the start (FARTHING_PEERS names the
 * other's origin; pass FARTHING_PEERS: '' in `env` for strangers).
 */
export async function pair(t: Test, kind: 'postgres' | 'pglite', env: { a?: Record<string, string>; b?: Record<string, string> } = {}) {
  const [frontA, frontB] = [await openFront(t), await openFront(t)];
  const a = await startNetworked(t, kind, { FARTHING_PEERS: frontB.origin, ...env.a }, frontA);
  const b = await startNetworked(t, kind, { FARTHING_PEERS: frontA.origin, ...env.b }, frontB);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const carl = await a.member('carl', { deposit: '10.00', budget: '2.00' });
  const bob = await b.member('bob', { deposit: '10.00', budget: '2.00' });
  const bea = await b.member('bea', { deposit: '50.00', budget: '3.00' });
  const bobThing = await thing(b, bob, 'https://bob.example/a', 'Bob A');
  const carlThing = await thing(a, carl, 'https://carl.example/a', 'Carl A');
  // carl and bob flattr something local, so they take part (their budgets are charged).
  const annThing = await thing(a, ann, 'https://ann.example/a');
  const beaThing = await thing(b, bea, 'https://bea.example/a');
  t.equal((await a.api('POST', '/api/v1/flattrs', { token: carl, body: { thing_id: annThing } })).status, 201);
  t.equal((await b.api('POST', '/api/v1/flattrs', { token: bob, body: { thing_id: beaThing } })).status, 201);
  // The flattrs across: ann (A) flattrs bob's thing (B); bea (B) flattrs carl's thing (A).
  t.equal((await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `${b.origin}/things/${bobThing}` } })).status, 201);
  t.equal((await b.api('POST', '/api/v1/flattrs', { token: bea, body: { url: `${a.origin}/things/${carlThing}` } })).status, 201);
  await eventually(async () => (await b.ctx.db.selectFrom('incoming_flattrs').select('id').execute()).length === 1, 60_000, 'the Like at B');
  await eventually(async () => (await a.ctx.db.selectFrom('incoming_flattrs').select('id').execute()).length === 1, 60_000, 'the Like at A');
  return { a, b, ann, carl, bob, bea, bobThing };
}

/**
 * Statements as A's instance actor would sign and send them to B (to test what B refuses or
 * disputes): `sign` builds the statement after `previous` with A's Ed25519 key (`message` signs any
 * other settlement message), `post` sends a
 * body to B's settlement inbox, HTTP-signed with A's RSA key (or not signed).
 */
export async function asIssuer(a: NetworkedInstance, b: NetworkedInstance, previous: SignedStatement | null = null) {
  const fctx = a.federation.createContext(new URL(a.origin), undefined);
  const [rsa, ed] = await fctx.getActorKeyPairs(INSTANCE_ACTOR);
  const post = async (body: string, signed = true) => {
    const request = new Request(`${b.origin}/settlement/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return fetch(signed ? await signRequest(request, rsa!.privateKey, rsa!.keyId) : request);
  };
  const sign = (overrides: Partial<Parameters<typeof buildStatement>[0]>) =>
    signStatement(
      buildStatement({
        id: `${a.origin}/settlement/statements/${crypto.randomUUID()}`,
        issuer: `${a.origin}/actor`,
        counterparty: `${b.origin}/actor`,
        sequence: (previous?.sequence ?? 0) + 1,
        previous: previous ? { id: previous.id, digest: statementDigest(previous) } : null,
        period: '2026-11' as Period,
        currency: 'EUR',
        issuedAt: new Date('2026-12-01T00:31:00Z'),
        creators: [],
        ...overrides,
      }),
      { privateKey: ed!.privateKey, verificationMethod: ed!.multikey.id!.href },
      new Date('2026-12-01T00:31:00Z'),
    );
  /** A settlement message (an answer, a payment...) with A's proof, as A's relay would send it. */
  const message = (fields: Record<string, unknown>, created = new Date()) =>
    withProof(JSON.stringify(fields), { privateKey: ed!.privateKey, verificationMethod: ed!.multikey.id!.href }, created);
  return { post, sign, message };
}

export async function closeBoth(t: Test, a: NetworkedInstance, b: NetworkedInstance, p: string, at: string) {
  a.clock.set(at);
  b.clock.set(at);
  for (const inst of [a, b]) {
    const closed = await inst.api('POST', `/api/v1/admin/periods/${p}/close`, { token: inst.adminToken });
    t.equal(closed.status, 200, `${inst.origin} closes ${p}: ${closed.text.slice(0, 200)}`);
  }
}
