/**
 * The peers an admin settles with: a limit on what may be owed to one peer refuses new flattrs of
 * its creators beyond it (peer_limit), a blocked peer's creators cannot be flattred (peer_blocked)
 * and its statements are refused; a statement is fetchable at its id by its counterparty only.
 */
import { signRequest } from '@fedify/fedify';
import t from 'tap';
import { INSTANCE_ACTOR } from '../../src/activitypub/federation.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { eventually, startNetworked } from '../helpers/network.ts';

await eachDatabase(t, async (t, kind) => {
  const a = await startNetworked(t, kind);
  const b = await startNetworked(t, kind);
  const c = await startNetworked(t, kind);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const bob = await b.member('bob');
  const first = await thing(b, bob, 'https://bob.example/1');
  const second = await thing(b, bob, 'https://bob.example/2');
  const flattr = (id: string) => a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `${b.origin}/things/${id}` } });

  t.equal((await flattr(first)).status, 201);
  a.clock.set('2026-12-01T00:30:00Z');
  b.clock.set('2026-12-01T00:30:00Z');
  t.equal((await a.api('POST', '/api/v1/admin/periods/2026-11/close', { token: a.adminToken })).status, 200);
  const peers = (await a.api('GET', '/api/v1/admin/peers', { token: a.adminToken })).body.items;
  t.match(
    peers,
    [
      {
        origin: b.origin,
        actor: `${b.origin}/actor`,
        state: 'pending',
        blocked: false,
        owe_limit: null,
        balance: '4.50',
        pending: '0.00',
        credit_line: '0.00',
      },
    ],
    'A owes B 4.50',
  );
  t.equal(peers.length, 1);

  t.test('a limit on what may be owed to a peer', async (t) => {
    const limited = await a.api('PUT', '/api/v1/admin/peers', { token: a.adminToken, body: { peer: b.origin, owe_limit: '4.00' } });
    t.equal(limited.status, 200);
    t.equal(limited.body.owe_limit, '4.00');
    const refused = await flattr(second);
    t.equal(refused.status, 409);
    t.equal(refused.body.error.code, 'peer_limit');
    t.match(refused.body.error.message, b.origin);
    t.equal((await a.ctx.db.selectFrom('flattrs').select('id').where('period', '=', '2026-12').execute()).length, 0, 'no flattr made');
    await a.api('PUT', '/api/v1/admin/peers', { token: a.adminToken, body: { peer: b.origin, owe_limit: null } });
    t.equal((await flattr(second)).status, 201, 'without the limit it is made');
  });

  t.test('a blocked peer', async (t) => {
    // A's statement and B's answer to it are delivered before A blocks B (a peer's messages
    // arrive in order: a refused answer would hold back B's statement below).
    const settled = async (x: typeof a) =>
      !(await x.ctx.db.selectFrom('settlement_deliveries').select('id').where('delivered_at', 'is', null).executeTakeFirst());
    await eventually(async () => (await settled(a)) && (await b.ctx.db.selectFrom('statements').select('id').executeTakeFirst()), 20_000, "A's statement at B");
    await eventually(() => settled(b), 20_000, "B's answer delivered");
    const blocked = await a.api('PUT', '/api/v1/admin/peers', { token: a.adminToken, body: { peer: b.origin, blocked: true } });
    t.equal(blocked.body.blocked, true);
    const refused = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `${b.origin}/things/${first}` } });
    t.equal(refused.status, 403);
    t.equal(refused.body.error.code, 'peer_blocked');
    const third = await thing(b, bob, 'https://bob.example/3');
    const refusedNew = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `${b.origin}/things/${third}` } });
    t.equal(refusedNew.status, 403);
    t.equal(refusedNew.body.error.code, 'peer_blocked');
    // B's statement for November reaches A and is refused while B is blocked.
    t.equal((await b.api('POST', '/api/v1/admin/periods/2026-11/close', { token: b.adminToken })).status, 200);
    const delivery = await eventually(
      async () => {
        // B's statement, not its answer to A's statement (which A takes from a blocked peer).
        const row = await b.ctx.db
          .selectFrom('settlement_deliveries')
          .select(['last_status', 'attempts'])
          .where('message_id', 'in', b.ctx.db.selectFrom('statements').select('id').where('direction', '=', 'out'))
          .executeTakeFirst();
        return row && row.attempts > 0 && row;
      },
      20_000,
      'B tries to deliver',
    );
    t.match(delivery.last_status, /^403 .*peer_blocked/);
    t.equal((await a.ctx.db.selectFrom('statements').select('id').where('direction', '=', 'in').execute()).length, 0, 'nothing received');
    await a.api('PUT', '/api/v1/admin/peers', { token: a.adminToken, body: { peer: b.origin, blocked: false } });
  });

  t.test('a statement is fetchable at its id by its counterparty only', async (t) => {
    const statement = await a.ctx.db.selectFrom('statements').select(['id', 'document']).where('direction', '=', 'out').executeTakeFirstOrThrow();
    const signedGet = async (by: typeof b) => {
      const [rsa] = await by.federation.createContext(new URL(by.origin), undefined).getActorKeyPairs(INSTANCE_ACTOR);
      return fetch(await signRequest(new Request(statement.id, { headers: { accept: 'application/json' } }), rsa!.privateKey, rsa!.keyId));
    };
    const byB = await signedGet(b);
    t.equal(byB.status, 200);
    t.equal(await byB.text(), statement.document, 'byte for byte');
    const byC = await signedGet(c);
    t.equal(byC.status, 404, 'another instance does not see it');
    t.equal((await fetch(statement.id)).status, 401, 'nor does anyone unsigned');
  });
});
