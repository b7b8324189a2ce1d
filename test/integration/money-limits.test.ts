/**
 * Trust between instances, the money side, as attacks on one instance (through app.inject, on
 * PostgreSQL and PGlite): statements from an unknown instance are kept but credit nobody until
 * the admin trusts it; a line claiming more than its flattr count times the maximum budget is
 * disputed (amount_implausible); credits from a trusted peer are pending until settled or
 * covered by its credit line; deposits that would overflow a balance are 422 amount_too_large,
 * never a 500; a creator near the maximum does not wedge the close; a payout never takes the
 * budget committed by a flattr; a close that fails says where and why, and completes when run
 * again after the cause is fixed. The ledger self-check holds at every step.
 *
 * The statements are signed with a key of the test's own and handed to receiveMessage, the
 * function behind POST /settlement/inbox once the HTTP signature has named the sender; the
 * Likes they reconcile against are written as incoming_flattrs rows (the inbox's own checks are
 * tested in test/federation/). The honest path between two real instances is
 * test/federation/settlement-clearing.test.ts.
 */
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import type { Context } from '../../src/context.ts';
import type { Period } from '../../src/core/period.ts';
import { checkLedger } from '../../src/ledger/check.ts';
import { statementDigest } from '../../src/settlement/digest.ts';
import { receiveMessage } from '../../src/settlement/receive.ts';
import { buildStatement, type SignedStatement, signStatement } from '../../src/settlement/statement.ts';
import { eachDatabaseEmbeddedToo } from '../helpers/databases.ts';
import { startInstance, type TestInstance, thing } from '../helpers/instance.ts';

const TRUSTED = 'https://peer.example';
const STRANGER = 'https://evil.example';

/** An instance that signs statements to ours with an Ed25519 key of its own, chained. */
async function issuer(inst: TestInstance, origin: string) {
  const keys = (await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify'])) as CryptoKeyPair;
  const verificationMethod = `${origin}/actor#ed25519-key`;
  let previous: SignedStatement | null = null;
  return {
    /** Sends the next statement of `period`, one line per creator; answers what receiveMessage answers. */
    async send(period: string, lines: { creator: string; flattrIds: string[]; amount: string }[]) {
      const statement: SignedStatement = await signStatement(
        buildStatement({
          id: `${origin}/settlement/statements/${randomUUID()}`,
          issuer: `${origin}/actor`,
          counterparty: `${inst.ctx.config.origin}/actor`,
          sequence: (previous?.sequence ?? 0) + 1,
          previous: previous ? { id: previous.id, digest: statementDigest(previous) } : null,
          period: period as Period,
          currency: 'EUR',
          issuedAt: new Date('2026-11-01T01:00:00Z'),
          creators: lines.map((l) => ({ creator: l.creator, flattrIds: l.flattrIds, amountMicros: BigInt(l.amount) })),
        }),
        { privateKey: keys.privateKey, verificationMethod },
        new Date('2026-11-01T01:00:00Z'),
      );
      previous = statement;
      return receiveMessage(inst.ctx as Context, { origin, multikeys: new Map([[verificationMethod, keys.publicKey]]) }, JSON.stringify(statement)) as Promise<{
        statement: string;
        state: string;
        disputes: { n: number; code?: string; reason: string }[];
      }>;
    },
  };
}

/** A Like of `thingId` from `origin` in `period`, as the inbox records it. */
async function like(inst: TestInstance, origin: string, thingId: string, period: string): Promise<string> {
  const id = `${origin}/flattrs/${randomUUID()}`;
  await inst.ctx.db
    .insertInto('incoming_flattrs')
    .values({
      id: randomUUID(),
      activity_id: id,
      thing_id: thingId,
      actor_iri: `${origin}/users/someone`,
      instance_origin: origin,
      period,
      received_at: inst.clock.now(),
    })
    .execute();
  return id;
}

async function balanced(t: Test, inst: TestInstance, when: string) {
  const check = await checkLedger(inst.ctx.db);
  t.ok(check.balanced, `ledger balanced ${when}${check.balanced ? '' : `: ${JSON.stringify(check.checks.filter((c) => !c.ok))}`}`);
}

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  t.test('pending peers, implausible lines, overflows, committed budgets and a failed close', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_PEERS: `${TRUSTED},` } });
    const me = async (token: string) =>
      (await inst.api('GET', '/api/v1/me', { token })).body as { balance: string; pending: string; pending_credits: unknown[] };
    const ann = await inst.member('ann', { deposit: '100.00', budget: '20.00' });
    // rich: so near the ledger's maximum (1000000000000.00) that the instance as a whole is too.
    const rich = await inst.member('rich', { deposit: '999999999900.00' });
    const richActor = `${inst.ctx.config.origin}/users/rich`;
    const richThing = await thing(inst, rich, 'https://rich.example/a', 'Rich A');

    await t.test('no deposit overflows a balance: ten of 1000000000000.00 are 422, never 500', async (t) => {
      const dan = await inst.member('dan');
      for (let i = 0; i < 10; i++) {
        const r = await inst.api('POST', '/api/v1/admin/deposits', {
          token: inst.adminToken,
          body: { username: i % 2 ? 'dan' : 'rich', amount: '1000000000000.00', reference: `big-${i}` },
        });
        t.equal(r.status, 422, `deposit ${i + 1}: ${r.text.slice(0, 120)}`);
        t.equal(r.body.error.code, 'amount_too_large');
      }
      t.equal((await me(dan)).balance, '0.00', 'nothing was written');
      t.equal((await me(rich)).balance, '999999999900.00');
      const atTheEdge = await inst.api('POST', '/api/v1/admin/deposits', {
        token: inst.adminToken,
        body: { username: 'dan', amount: '0.01', reference: 'small' },
      });
      t.equal(atTheEdge.status, 422, 'the external account mirrors every deposit: the instance as a whole is at the maximum too');
      await balanced(t, inst, 'after the refused deposits');
    });

    const strangerLike = await like(inst, STRANGER, richThing, '2026-10');
    const trustedLike = await like(inst, TRUSTED, richThing, '2026-10');
    const stranger = await issuer(inst, STRANGER);
    const trusted = await issuer(inst, TRUSTED);

    await t.test('an unknown instance: a huge line is implausible, a plausible one credits nobody until trusted', async (t) => {
      const huge = await stranger.send('2026-10', [{ creator: richActor, flattrIds: [strangerLike], amount: '500000000000000' }]);
      t.equal(huge.state, 'disputed');
      t.match(huge.disputes, [{ n: 1, code: 'amount_implausible', reason: /^amount_implausible: 500000000\.00 for 1 flattrs/ }]);
      const correction = await stranger.send('2026-10', [{ creator: richActor, flattrIds: [strangerLike], amount: '90000000' }]);
      t.equal(correction.state, 'open', "reconciles, but a pending peer's statement waits for the admin");
      t.match(await me(rich), { balance: '999999999900.00', pending: '0.00' }, 'rich credited nothing');
      const peers = (await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items;
      t.match(
        peers.find((p: { origin: string }) => p.origin === STRANGER),
        { state: 'pending', claimed: '90.00', awaiting: '90.00', pending: '0.00', credit_line: '0.00', statements: 2 },
      );
      t.ok(peers.find((p: { origin: string }) => p.origin === STRANGER).first_seen, 'first seen');
      const uuid = correction.statement.split('/').pop();
      const accept = await inst.api('POST', `/api/v1/admin/statements/${uuid}/accept`, { token: inst.adminToken });
      t.equal(accept.status, 409);
      t.equal(accept.body.error.code, 'peer_not_trusted');
      t.equal((await me(rich)).pending, '0.00');
      await balanced(t, inst, 'with a pending peer');
    });

    await t.test('a trusted peer: pending credits, spendable within the credit line', async (t) => {
      const accepted = await trusted.send('2026-10', [{ creator: richActor, flattrIds: [trustedLike], amount: '90000000' }]);
      t.equal(accepted.state, 'accepted', 'FARTHING_PEERS: trusted from the start, auto-accepted');
      t.match(await me(rich), { balance: '999999999900.00', pending: '90.00', pending_credits: [{ peer: TRUSTED, period: '2026-10', amount: '90.00' }] });
      const payout = await inst.api('POST', '/api/v1/me/payouts', { token: rich, body: { amount: '999999999950.00' } });
      t.equal(payout.body.error.code, 'insufficient_funds', 'pending money cannot be paid out');
      await balanced(t, inst, 'with a pending credit');
      const line = await inst.api('PUT', '/api/v1/admin/peers', { token: inst.adminToken, body: { peer: TRUSTED, credit_line: '100.00' } });
      t.equal(line.status, 200, line.text);
      t.match(line.body, { state: 'trusted', credit_line: '100.00', pending: '0.00' });
      t.match(await me(rich), { balance: '999999999990.00', pending: '0.00' }, 'within the credit line: spendable at once');
      const ledger = (await inst.api('GET', '/api/v1/me/ledger?period=2026-10', { token: rich })).body.items;
      t.match(
        ledger,
        [
          { kind: 'statement_credit', account: 'pending', direction: 'in', amount: '90.00' },
          { kind: 'credit_cleared', account: 'wallet', direction: 'in', amount: '90.00' },
        ],
        "the member's ledger shows both steps",
      );

      const trust = await inst.api('PUT', '/api/v1/admin/peers', { token: inst.adminToken, body: { peer: STRANGER, state: 'trusted' } });
      t.equal(trust.status, 200, trust.text);
      t.match(trust.body, { state: 'trusted', pending: '90.00', awaiting: '0.00' }, 'trusting applies the kept statement; its credit is pending');
      t.equal((await me(rich)).pending, '90.00');
      await balanced(t, inst, 'after trusting');
    });

    await t.test('the budget is committed at the first flattr: payouts take only what lies above it', async (t) => {
      t.equal((await inst.api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: richThing } })).status, 201);
      const whole = await inst.api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '100.00' } });
      t.equal(whole.status, 409);
      t.equal(whole.body.error.code, 'budget_committed');
      t.match(whole.body.error.message, /20\.00 of your wallet is the budget you committed by flattring in 2026-11/);
      t.equal((await inst.api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '30.00' } })).status, 201, 'above the budget: allowed');
      const more = await inst.api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '60.00' } });
      t.equal(more.body.error.code, 'budget_committed', '70.00 left, 20.00 committed');
      t.equal(more.body.error.available, '50.00');
      await balanced(t, inst, 'after the payouts');
    });

    await t.test('a creator near the maximum does not wedge the close; after it the budget is free', async (t) => {
      inst.clock.set('2026-12-01T00:30:00Z');
      const closed = await inst.api('POST', '/api/v1/admin/periods/2026-11/close', { token: inst.adminToken });
      t.equal(closed.status, 200, closed.text);
      // rich's own idle budget (the minimum, 2.00) went to the charity: 999999999988.00 + 18.00 would pass the maximum.
      t.match(closed.body.summary, { charged: '22.00', held: '18.00', paid: '0.00' }, "rich's share waits in holds: his wallet has no room for it");
      t.equal((await me(rich)).balance, '999999999988.00');
      t.match((await inst.api('GET', '/api/v1/admin/periods/2026-11', { token: inst.adminToken })).body, {
        period: '2026-11',
        state: 'closed',
        stage: 'done',
        error: null,
      });
      t.equal((await inst.api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '50.00' } })).status, 201, 'after the close: allowed');
      await balanced(t, inst, 'after the close');
    });

    await t.test('a close that fails shows its stage and error, and completes when run again after the fix', async (t) => {
      // Paying ann's payouts out makes room in the instance for a deposit; rich becomes the
      // charity, and ann's idle December budget would take his wallet past the maximum.
      const payouts = (await inst.api('GET', '/api/v1/admin/payouts', { token: inst.adminToken })).body.items as { id: string }[];
      for (const p of payouts)
        t.equal((await inst.api('POST', `/api/v1/admin/payouts/${p.id}/paid`, { token: inst.adminToken, body: { reference: `sent-${p.id}` } })).status, 200);
      t.equal(
        (await inst.api('POST', '/api/v1/admin/deposits', { token: inst.adminToken, body: { username: 'ann', amount: '60.00', reference: 'ann-again' } }))
          .status,
        201,
      );
      t.equal((await inst.api('PUT', '/api/v1/admin/charity', { token: inst.adminToken, body: { username: 'rich' } })).status, 200);
      inst.clock.set('2027-01-01T00:30:00Z');
      const failed = await inst.api('POST', '/api/v1/admin/periods/2026-12/close', { token: inst.adminToken });
      t.equal(failed.status, 422, failed.text);
      t.equal(failed.body.error.code, 'amount_too_large');
      const status = (await inst.api('GET', '/api/v1/admin/periods/2026-12', { token: inst.adminToken })).body;
      t.match(status, { period: '2026-12', state: 'closing', stage: 'booking', error: { stage: 'booking', message: /maximum/ } });
      await balanced(t, inst, 'after the failed close');
      // The fix: the charity pays some of it out; the close then resumes and completes.
      t.equal((await inst.api('POST', '/api/v1/me/payouts', { token: rich, body: { amount: '1000.00' } })).status, 201);
      const again = await inst.api('POST', '/api/v1/admin/periods/2026-12/close', { token: inst.adminToken });
      t.equal(again.status, 200, again.text);
      t.match(again.body.summary, { to_charity: '20.00' });
      t.match((await inst.api('GET', '/api/v1/admin/periods/2026-12', { token: inst.adminToken })).body, { state: 'closed', error: null });
      await balanced(t, inst, 'after the close completed');
    });
  });
});
