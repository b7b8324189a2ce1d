/**
 * Every endpoint of the instance core through the JSON API, with its error codes, on
 * PostgreSQL and on the embedded database.
 */
import t from 'tap';
import { eachDatabaseEmbeddedToo } from '../helpers/databases.ts';
import { startInstance, thing } from '../helpers/instance.ts';

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  t.test('registration modes and invites', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_REGISTRATION: 'invite' } });
    const { api, adminToken } = inst;
    const noInvite = await api('POST', '/api/v1/accounts', { body: { username: 'ann', password: 'long-password' } });
    t.equal(noInvite.status, 403);
    t.equal(noInvite.body.error.code, 'invite_required');
    const bad = await api('POST', '/api/v1/accounts', { body: { username: 'ann', password: 'long-password', invite: 'nope' } });
    t.equal(bad.body.error.code, 'invite_required');
    const invite = await api('POST', '/api/v1/admin/invites', { token: adminToken });
    t.equal(invite.status, 201);
    const ann = await api('POST', '/api/v1/accounts', { body: { username: 'ann', password: 'long-password', invite: invite.body.code } });
    t.equal(ann.status, 201);
    t.same(ann.body, { username: 'ann', actor: 'https://a.example/users/ann' });
    const reused = await api('POST', '/api/v1/accounts', { body: { username: 'bob', password: 'long-password', invite: invite.body.code } });
    t.equal(reused.body.error.code, 'invite_required', 'an invite works once');
    const taken = await api('POST', '/api/v1/accounts', { body: { username: 'ANN', password: 'long-password', invite: 'x' } });
    t.equal(taken.status, 403, 'the invite is checked before anything else is revealed');

    const annToken = (await api('POST', '/api/v1/tokens', { body: { username: 'ann', password: 'long-password' } })).body.token;
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api('POST', '/api/v1/me/invites', { token: annToken });
      t.equal(r.status, 201);
      codes.push(r.body.code);
    }
    const fourth = await api('POST', '/api/v1/me/invites', { token: annToken });
    t.equal(fourth.status, 409);
    t.equal(fourth.body.error.code, 'invite_limit', 'members make three invites, as Flattr did');
    const bob = await api('POST', '/api/v1/accounts', { body: { username: 'bob', password: 'long-password', invite: codes[0] } });
    t.equal(bob.status, 201);
    const list = await api('GET', '/api/v1/me/invites', { token: annToken });
    t.equal(list.body.items.filter((i: any) => i.used_by === 'bob').length, 1);
    const notAdmin = await api('POST', '/api/v1/admin/invites', { token: annToken });
    t.equal(notAdmin.status, 403);
    t.equal(notAdmin.body.error.code, 'forbidden');
  });

  t.test('open and closed registration, usernames, passwords, tokens', async (t) => {
    const open = await startInstance(t, kind, { env: { FARTHING_REGISTRATION: 'open' } });
    const r = await open.api('POST', '/api/v1/accounts', { body: { username: 'Carol_1', password: 'long-password' } });
    t.equal(r.status, 201);
    const dup = await open.api('POST', '/api/v1/accounts', { body: { username: 'carol_1', password: 'long-password' } });
    t.equal(dup.status, 409);
    t.equal(dup.body.error.code, 'username_taken', 'usernames are unique regardless of case');
    for (const body of [
      { username: 'no spaces', password: 'long-password' },
      { username: 'x', password: 'short' },
      { username: 'a'.repeat(31), password: 'long-password' },
      { password: 'long-password' },
      [],
    ]) {
      const bad = await open.api('POST', '/api/v1/accounts', { body });
      t.equal(bad.status, 400, JSON.stringify(body));
      t.equal(bad.body.error.code, 'invalid_request');
    }
    const wrong = await open.api('POST', '/api/v1/tokens', { body: { username: 'carol_1', password: 'wrong-password' } });
    t.equal(wrong.status, 401);
    t.equal(wrong.body.error.code, 'unauthorized');
    const unknown = await open.api('POST', '/api/v1/tokens', { body: { username: 'nobody', password: 'long-password' } });
    t.equal(unknown.body.error.code, 'unauthorized');
    const token = await open.api('POST', '/api/v1/tokens', { body: { username: 'carol_1', password: 'long-password' } });
    t.equal(token.status, 201);
    const me = await open.api('GET', '/api/v1/me', { token: token.body.token });
    t.same(me.body, {
      username: 'Carol_1',
      actor: 'https://a.example/users/Carol_1',
      currency: 'EUR',
      balance: '0.00',
      pending: '0.00',
      pending_credits: [],
      budget: '2.00',
      role: 'member',
      period: '2026-11',
    });
    t.equal((await open.api('GET', '/api/v1/me')).status, 401);
    t.equal((await open.api('GET', '/api/v1/me', { token: 'fth_forged' })).body.error.code, 'unauthorized');

    const closed = await startInstance(t, kind, { env: { FARTHING_REGISTRATION: 'closed' } });
    const refused = await closed.api('POST', '/api/v1/accounts', { body: { username: 'dave', password: 'long-password' } });
    t.equal(refused.status, 403);
    t.equal(refused.body.error.code, 'registration_closed');
  });

  t.test('deposits, budgets, things, flattrs, withdrawals and their errors', async (t) => {
    const inst = await startInstance(t, kind);
    const { api, adminToken } = inst;
    const ann = await inst.member('ann');
    const bob = await inst.member('bob', { deposit: '3.00' });

    const dep = await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'ann', amount: '10.00', reference: 'bank-1' } });
    t.equal(dep.status, 201);
    t.equal(dep.body.amount, '10.00');
    const again = await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'ann', amount: '10.00', reference: 'bank-1' } });
    t.equal(again.status, 201);
    t.equal(again.body.replayed, true, 'the same reference records once');
    const conflict = await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'bob', amount: '10.00', reference: 'bank-1' } });
    t.equal(conflict.status, 409);
    t.equal(conflict.body.error.code, 'reference_conflict');
    for (const amount of [10, '-1.00', '1.0000001', '0', 'ten']) {
      const r = await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'ann', amount, reference: 'bank-x' } });
      t.equal(r.body.error.code, 'invalid_amount', `deposit of ${JSON.stringify(amount)}`);
    }
    t.equal(
      (await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'zed', amount: '1.00', reference: 'r' } })).body.error.code,
      'not_found',
    );
    t.equal(
      (await api('POST', '/api/v1/admin/deposits', { token: ann, body: { username: 'ann', amount: '1.00', reference: 'r' } })).body.error.code,
      'forbidden',
    );
    t.equal((await api('GET', '/api/v1/me', { token: ann })).body.balance, '10.00');

    const low = await api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: '1.99' } });
    t.equal(low.status, 400);
    t.equal(low.body.error.code, 'budget_out_of_range');
    t.equal((await api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: '100.01' } })).body.error.code, 'budget_out_of_range');
    t.equal((await api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: 5 } })).body.error.code, 'invalid_amount');
    const budget = await api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: '5.00' } });
    t.same(budget.body, { amount: '5.00', applies_from: '2026-11' }, 'before the first flattr a change applies to this month');

    const thingResp = await api('POST', '/api/v1/things', { token: bob, body: { url: 'https://bob.example/post#comments', title: '  A post  ' } });
    t.equal(thingResp.status, 201);
    t.equal(thingResp.body.url, 'https://bob.example/post', 'the fragment is not part of a thing');
    t.equal(thingResp.body.title, 'A post');
    t.same(thingResp.body.owner, { actor: 'https://a.example/users/bob', username: 'bob' });
    t.equal(thingResp.body.uri, `https://a.example/things/${thingResp.body.id}`);
    const dupThing = await api('POST', '/api/v1/things', { token: ann, body: { url: 'https://bob.example/post' } });
    t.equal(dupThing.status, 409);
    t.equal(dupThing.body.error.code, 'thing_exists');
    for (const url of ['ftp://x.example/', 'not a url', '', 42, `https://${'a'.repeat(3000)}.example/`]) {
      t.equal((await api('POST', '/api/v1/things', { token: bob, body: { url } })).body.error.code, 'invalid_request', `url ${String(url).slice(0, 20)}`);
    }
    const lookup = await api('GET', `/api/v1/things/lookup?url=${encodeURIComponent('https://bob.example/post')}`);
    t.equal(lookup.status, 200);
    t.same(lookup.body, thingResp.body);
    t.equal((await api('GET', `/api/v1/things/lookup?url=${encodeURIComponent('https://nobody.example/')}`)).status, 404);
    const byUri = await api('GET', `/api/v1/things/lookup?url=${encodeURIComponent(thingResp.body.uri)}`);
    t.equal(byUri.body.id, thingResp.body.id, 'a thing is also found by its own IRI');

    const own = await api('POST', '/api/v1/flattrs', { token: bob, body: { thing_id: thingResp.body.id } });
    t.equal(own.status, 409);
    t.equal(own.body.error.code, 'flattr_owner');
    const flattr = await api('POST', '/api/v1/flattrs', { token: ann, body: { url: 'https://bob.example/post' } });
    t.equal(flattr.status, 201);
    t.equal(flattr.body.period, '2026-11');
    t.equal(flattr.body.thing.id, thingResp.body.id);
    const repeat = await api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: thingResp.body.id } });
    t.equal(repeat.status, 409);
    t.equal(repeat.body.error.code, 'flattr_once');
    t.equal(repeat.body.error.existing_id, flattr.body.id);
    t.equal((await api('POST', '/api/v1/flattrs', { token: ann, body: { url: 'https://unknown.example/' } })).status, 404);
    t.equal((await api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: 'x' } })).body.error.code, 'invalid_request');
    t.equal((await api('POST', '/api/v1/flattrs', { token: ann, body: {} })).body.error.code, 'invalid_request');

    const after = await api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: '8.00' } });
    t.same(after.body, { amount: '8.00', applies_from: '2026-12' }, 'after the first flattr a change applies to next month');
    t.equal((await api('GET', '/api/v1/me', { token: ann })).body.budget, '5.00');

    // bob's wallet (3.00) covers the 2.00 minimum budget; raising it to 4.00 does not
    const annThing = await thing(inst, ann, 'https://ann.example/');
    await api('PUT', '/api/v1/me/budget', { token: bob, body: { amount: '4.00' } });
    const noMeans = await api('POST', '/api/v1/flattrs', { token: bob, body: { thing_id: annThing } });
    t.equal(noMeans.status, 402);
    t.equal(noMeans.body.error.code, 'no_means');
    await api('PUT', '/api/v1/me/budget', { token: bob, body: { amount: '3.00' } });
    t.equal((await api('POST', '/api/v1/flattrs', { token: bob, body: { thing_id: annThing } })).status, 201);

    const mine = await api('GET', '/api/v1/me/flattrs', { token: ann });
    t.equal(mine.body.period, '2026-11');
    t.equal(mine.body.items.length, 1);
    t.equal((await api('DELETE', `/api/v1/flattrs/${flattr.body.id}`, { token: bob })).status, 404, 'only the giver withdraws');
    t.equal((await api('DELETE', `/api/v1/flattrs/${flattr.body.id}`, { token: ann })).status, 204);
    t.equal((await api('DELETE', `/api/v1/flattrs/${flattr.body.id}`, { token: ann })).status, 404);
    t.equal((await api('GET', '/api/v1/me/flattrs', { token: ann })).body.items.length, 0);
    const reflattr = await api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: thingResp.body.id } });
    t.equal(reflattr.status, 201, 'a withdrawn flattr can be given again');

    const incoming = await api('GET', '/api/v1/me/incoming', { token: bob });
    t.equal(incoming.body.items.length, 1);
    t.equal(incoming.body.items[0].state, 'pending');
    t.equal(incoming.body.items[0].from, 'https://a.example/users/ann');

    t.equal((await api('GET', '/api/v1/me/flattrs?period=2026-13', { token: ann })).body.error.code, 'invalid_request');
    const early = await api('POST', '/api/v1/admin/periods/2026-11/close', { token: adminToken });
    t.equal(early.status, 409);
    t.equal(early.body.error.code, 'period_open');
    t.equal((await api('POST', '/api/v1/admin/periods/11-2026/close', { token: adminToken })).body.error.code, 'invalid_request');

    inst.clock.set('2026-12-01T00:00:01Z');
    const close = await api('POST', '/api/v1/admin/periods/2026-11/close', { token: adminToken });
    t.equal(close.status, 200);
    t.same(
      Object.keys(close.body.summary).sort(),
      [
        'charged',
        'expired',
        'fees',
        'flattrs',
        'held',
        'members_charged',
        'owed_to_peers',
        'paid',
        'released',
        'to_charity',
        'unclaimed',
        'unclaimed_released',
      ].sort(),
    );
    t.equal(close.body.summary.flattrs, 2);
    const closedWithdraw = await api('DELETE', `/api/v1/flattrs/${reflattr.body.id}`, { token: ann });
    t.equal(closedWithdraw.status, 409);
    t.equal(closedWithdraw.body.error.code, 'period_closed');
    const twice = await api('POST', '/api/v1/admin/periods/2026-11/close', { token: adminToken });
    t.same(twice.body.summary, close.body.summary, 'closing twice changes nothing');
    t.equal(twice.body.closed_now, false);

    // ann: 10.00 - 5.00 budget + bob's single flattr 3.00 - 10% = 7.70
    t.equal((await api('GET', '/api/v1/me', { token: ann })).body.balance, '7.70');
    t.equal((await api('GET', '/api/v1/me', { token: ann })).body.budget, '8.00', 'the scheduled budget applies in December');
    const earnings = await api('GET', '/api/v1/me/earnings?period=2026-11', { token: bob });
    t.equal(earnings.body.total, '4.50');
    t.equal(earnings.body.closed, true);
    t.same(
      earnings.body.items.map((i: any) => [i.flattrs, i.amount]),
      [[1, '4.50']],
    );
    t.equal((await api('GET', '/api/v1/me/incoming?period=2026-11', { token: bob })).body.items[0].state, 'paid');
    const ledger = await api('GET', '/api/v1/me/ledger?period=2026-11', { token: ann });
    t.same(
      ledger.body.items.map((i: any) => [i.kind, i.direction, i.amount]),
      [
        ['deposit', 'in', '10.00'],
        ['budget_charge', 'out', '5.00'],
        ['share', 'in', '2.70'],
      ],
    );
    const csv = await api('GET', '/api/v1/me/ledger?period=2026-11&format=csv', { token: ann });
    t.match(csv.headers['content-type'], /text\/csv/);
    t.equal(
      csv.text.split('\r\n')[0],
      '"period","transfer_id","created_at","kind","direction","amount","reference","account"',
      'every cell quoted (src/http/csv.ts)',
    );
    t.equal(csv.text.trim().split('\r\n').length, 4);
    const earningsCsv = await api('GET', '/api/v1/me/earnings?period=2026-11&format=csv', { token: bob });
    t.match(earningsCsv.text, /"https:\/\/bob\.example\/post","A post","1","4\.50","0\.00"/);

    const check = await api('GET', '/api/v1/admin/ledger/check', { token: adminToken });
    t.equal(check.status, 200);
    t.equal(check.body.balanced, true);
    t.equal((await api('GET', '/api/v1/admin/ledger/check', { token: ann })).status, 403);
  });

  t.test('payouts reserve at once and are marked paid with a reference', async (t) => {
    const inst = await startInstance(t, kind);
    const { api, adminToken } = inst;
    const ann = await inst.member('ann', { deposit: '25.00' });
    t.equal((await api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '9.99' } })).body.error.code, 'invalid_amount', 'below the minimum');
    const tooMuch = await api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '25.01' } });
    t.equal(tooMuch.status, 409);
    t.equal(tooMuch.body.error.code, 'insufficient_funds');
    const payout = await api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '15.00' } });
    t.equal(payout.status, 201);
    t.equal(payout.body.state, 'requested');
    t.equal((await api('GET', '/api/v1/me', { token: ann })).body.balance, '10.00', 'reserved at once');
    t.equal((await api('POST', '/api/v1/me/payouts', { token: ann, body: { amount: '10.01' } })).body.error.code, 'insufficient_funds');
    t.equal((await api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: adminToken, body: {} })).body.error.code, 'invalid_request');
    const paid = await api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: adminToken, body: { reference: 'SEPA-77' } });
    t.equal(paid.status, 200);
    t.equal(paid.body.state, 'paid');
    t.equal(paid.body.reference, 'SEPA-77');
    const same = await api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: adminToken, body: { reference: 'SEPA-77' } });
    t.equal(same.status, 200, 'marking paid again with the same reference is a no-op');
    const other = await api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: adminToken, body: { reference: 'SEPA-78' } });
    t.equal(other.body.error.code, 'already_paid');
    t.equal(
      (await api('POST', '/api/v1/admin/payouts/00000000-0000-4000-8000-000000000000/paid', { token: adminToken, body: { reference: 'x' } })).status,
      404,
    );
    const ledger = await api('GET', '/api/v1/me/ledger', { token: ann });
    t.same(
      ledger.body.items.map((i: any) => [i.kind, i.amount]),
      [
        ['deposit', '25.00'],
        ['payout_reserve', '15.00'],
      ],
    );
  });

  t.test('malformed and oversized requests change nothing', async (t) => {
    const inst = await startInstance(t, kind);
    const { api, adminToken } = inst;
    const notJson = await inst.app.inject({
      method: 'POST',
      url: '/api/v1/accounts',
      headers: { 'content-type': 'application/json' },
      payload: '{"username":',
    });
    t.equal(notJson.statusCode, 400);
    t.equal(JSON.parse(notJson.body).error.code, 'invalid_request');
    const big = await inst.app.inject({
      method: 'POST',
      url: '/api/v1/accounts',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ username: 'x', password: 'y'.repeat(200_000) }),
    });
    t.equal(big.statusCode, 413);
    t.equal(JSON.parse(big.body).error.code, 'payload_too_large');
    const form = await inst.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
    t.equal(form.statusCode, 415);
    const proto = await inst.app.inject({
      method: 'POST',
      url: '/api/v1/admin/deposits',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      payload: '{"__proto__":{"amount":"1.00"},"username":"admin","reference":"p"}',
    });
    t.equal(proto.statusCode, 400);
    t.equal((await api('GET', '/api/nothing-here')).body.error.code, 'not_found');
    t.equal((await api('GET', '/nothing-here')).status, 404, 'a page path: 404 as an HTML page (test/integration/edges-input.test.ts)');
    const check = await api('GET', '/api/v1/admin/ledger/check', { token: adminToken });
    t.equal(check.body.transfers, 0, 'nothing was booked');
  });

  t.test('health', async (t) => {
    const inst = await startInstance(t, kind);
    const r = await inst.api('GET', '/healthz');
    t.equal(r.status, 200);
  });
});
