/**
 * The admin's settlement pages, through app.inject on PostgreSQL and PGlite: peers (block, owe
 * limit, with the API seeing the change), statements (list, details with the signed document's
 * lines, dispute from the page, the document downloaded byte for byte) and settlements (record
 * our payment, confirm the peer's). No real peer is needed: the rows are written directly, the
 * pages only display them and call the same services as the API. Non-admins get 403; every form
 * needs its CSRF token.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { fieldError, startWeb, textOf, type WebInstance } from '../helpers/web.ts';

const PEER = 'https://peer.example';

/** A received statement with two lines; its document keeps odd spacing so "byte for byte" means something. */
async function receivedStatement(inst: WebInstance, state: 'open' | 'disputed' = 'open', direction: 'in' | 'out' = 'in') {
  const uuid = randomUUID();
  const id = direction === 'in' ? `${PEER}/settlement/statements/${uuid}` : `${inst.ctx.config.origin}/settlement/statements/${uuid}`;
  const document = `{"type":"FlattrStatement", "id":${JSON.stringify(id)},"period":"2026-11","lines":[{"n":1,"creator":"${inst.ctx.config.origin}/users/cora","flattrCount":3,"flattrSetDigest":"x","amount":"1350000"},{"n":2,"creator":"${inst.ctx.config.origin}/users/dan","flattrCount":1,"flattrSetDigest":"y","amount":"450000"}],"summary":{"total":"1800000"}}\n`;
  await inst.ctx.db
    .insertInto('statements')
    .values({
      id,
      direction,
      peer_origin: PEER,
      sequence: direction === 'in' ? 1 : 2,
      period: '2026-11',
      currency: 'EUR',
      total: 1_800_000n,
      digest: 'digest',
      document,
      state,
      dispute: state === 'disputed' ? JSON.stringify([{ n: 2, reason: 'never arrived' }]) : null,
      created_at: inst.clock.now(),
      decided_at: null,
    })
    .execute();
  return { uuid, id, document };
}

await eachDatabase(t, async (t, kind) => {
  t.test('admin settlement pages: peers, statements, dispute, download, settlements; 403 and CSRF', async (t) => {
    const inst = await startWeb(t, kind);
    await inst.ctx.db
      .insertInto('peers')
      .values({ origin: PEER, actor: `${PEER}/actor`, created_at: inst.clock.now() })
      .execute();
    const received = await receivedStatement(inst);
    const ours = await receivedStatement(inst, 'disputed', 'out');

    const admin = inst.browser();
    await admin.signIn('admin', 'admin-password');
    t.match((await admin.get('/admin')).text, 'href="/admin/settlements"', 'the overview links the settlement pages');

    // Non-admins: 403 on every page and form; visitors are sent to sign in.
    await inst.member('mia');
    const mia = inst.browser();
    await mia.signIn('mia');
    for (const url of [
      '/admin/peers',
      '/admin/statements',
      `/admin/statements/${received.uuid}`,
      `/admin/statements/${received.uuid}/document.json`,
      '/admin/settlements',
    ]) {
      const r = await mia.get(url);
      t.equal(r.status, 403, `${url} is for admins`);
      t.notMatch(r.text, 'never arrived');
    }
    t.equal((await mia.post('/admin/peers', { peer: PEER, blocked: 'on' })).status, 403);
    t.equal((await mia.post(`/admin/statements/${received.uuid}/dispute`, { line: '1', reason: 'x' })).status, 403);
    t.equal((await inst.browser().get('/admin/peers')).status, 303, 'a visitor signs in first');

    // Peers: the table, then blocking with a limit; the API sees it.
    const peers = await admin.get('/admin/peers');
    t.equal(peers.status, 200);
    t.match(
      textOf(peers),
      /https:\/\/peer\.example pending unknown \S+ 1\.80 \(1\.80 waiting\) 0\.00 0\.00 none 0\.00/,
      'a pending peer, what its statements claim',
    );
    t.match(peers.text, /<label for="state-0">State<\/label>/);
    const forged = await admin.post('/admin/peers', { peer: PEER, blocked: 'on' }, { csrf: false });
    t.equal(forged.status, 403, 'no CSRF token, no change');
    t.equal((await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items[0].blocked, false);
    const badLimit = await admin.post('/admin/peers', { peer: PEER, blocked: 'on', owe_limit: 'lots' });
    t.equal(badLimit.status, 400);
    t.equal(fieldError(badLimit, 'owe_limit-0'), 'owe_limit must be a non-negative decimal with at most six decimals, got "lots" (invalid_amount)');
    t.match(badLimit.text, /id="owe_limit-0"[^>]*value="lots"/, 'the typed value stays');
    t.equal((await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items[0].blocked, false, 'a refused form changes nothing');
    const blocked = await admin.post('/admin/peers', { peer: PEER, blocked: 'on', owe_limit: '25.5' });
    t.equal(blocked.status, 303);
    t.equal(blocked.location, '/admin/peers?done=saved');
    const after = await admin.get(blocked.location!);
    t.match(textOf(after), /Peer saved\..*https:\/\/peer\.example blocked .* 0\.00 25\.50 0\.00/);
    t.match(after.text, /<option value="blocked" selected>/);
    const listed = (await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items;
    t.match(listed, [{ origin: PEER, actor: `${PEER}/actor`, state: 'blocked', blocked: true, owe_limit: '25.50', balance: '0.00', credit_line: '0.00' }]);
    t.equal(listed.length, 1);
    const badState = await admin.post('/admin/peers', { peer: PEER, state: 'friendly' });
    t.equal(badState.status, 400);
    t.equal(fieldError(badState, 'state-0'), 'state must be trusted, pending or blocked (invalid_request)');
    const badPeer = await admin.post('/admin/peers', { peer: 'not an origin' });
    t.equal(badPeer.status, 400);
    t.equal(fieldError(badPeer, 'peer-new'), 'peer must be an instance origin such as https://b.example (invalid_request)');
    t.equal((await admin.post('/admin/peers', { peer: PEER })).status, 303, 'unblocking: the box unticked');
    t.match((await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items[0], { blocked: false, owe_limit: null });

    // Statements: the list links each one's page.
    const list = await admin.get('/admin/statements?direction=in&period=2026-11');
    t.equal(list.status, 200);
    t.match(textOf(list), /https:\/\/peer\.example received 1 2026-11 1\.80 open/);
    t.notMatch(textOf(list), 'issued', 'only received ones');
    t.match(list.text, `href="/admin/statements/${received.uuid}"`);
    t.match(textOf(await admin.get('/admin/statements')), /issued 2 2026-11 1\.80 disputed/);
    t.match(textOf(await admin.get('/admin/statements?period=2026-10')), 'No statements for 2026-10');
    const badPeriod = await admin.get('/admin/statements?period=November');
    t.equal(badPeriod.status, 400);
    t.equal(fieldError(badPeriod, 'period'), 'period must be a month written YYYY-MM, got "November" (invalid_request)');
    t.equal((await admin.get('/admin/statements?direction=sideways')).status, 400);

    const details = await admin.get(`/admin/statements/${received.uuid}`);
    t.equal(details.status, 200);
    const text = textOf(details);
    t.match(text, /1 https?:\/\/[^ ]+\/users\/cora 3 1\.35 — 2 https?:\/\/[^ ]+\/users\/dan 1 0\.45 —/, 'the lines, amounts formatted');
    t.match(details.text, `action="/admin/statements/${received.uuid}/accept"`);
    t.match(details.text, `action="/admin/statements/${received.uuid}/dispute"`);
    t.notMatch(details.text, '/correct"', 'a received statement is not ours to correct');
    t.match(details.text, `href="/admin/statements/${received.uuid}/document.json"`);

    // The download is the stored text, byte for byte.
    const download = await admin.get(`/admin/statements/${received.uuid}/document.json`);
    t.equal(download.status, 200);
    t.equal(download.text, received.document);
    t.match(download.headers['content-type'], /^application\/json/);
    t.equal(download.headers['content-disposition'], `attachment; filename="statement-${received.uuid}.json"`);
    t.equal((await admin.get('/admin/statements/not-a-uuid/document.json')).status, 404);
    t.equal((await admin.get(`/admin/statements/${randomUUID()}`)).status, 404);

    // Dispute from the page: refusals next to the field, then the statement is disputed.
    const noLine = await admin.post(`/admin/statements/${received.uuid}/dispute`, { line: '7', reason: 'who?' });
    t.equal(noLine.status, 400);
    t.equal(fieldError(noLine, 'line'), 'the statement has no line 7 (invalid_request)');
    const noReason = await admin.post(`/admin/statements/${received.uuid}/dispute`, { line: '2', reason: ' ' });
    t.equal(noReason.status, 400);
    t.equal(fieldError(noReason, 'reason'), 'reason must say why, in 1 to 500 characters (invalid_request)');
    const twoLines = await admin.postFields(`/admin/statements/${received.uuid}/dispute`, [
      ['line', '1'],
      ['line', '2'],
      ['reason', 'x'],
    ]);
    t.equal(twoLines.status, 400, 'a repeated line field: 400, not a 500');
    t.equal(fieldError(twoLines, 'line'), 'line must be a line number, got ["1","2"] (invalid_request)');
    const wordy = await admin.post(`/admin/statements/${received.uuid}/dispute`, { line: '2', reason: 'x'.repeat(501) });
    t.equal(wordy.status, 400);
    t.equal(fieldError(wordy, 'reason'), 'reason must say why, in 1 to 500 characters (invalid_request)');
    const longLine = await admin.post(`/admin/statements/${received.uuid}/dispute`, { line: '9'.repeat(100), reason: 'x' });
    t.equal(fieldError(longLine, 'line'), `line must be a line number, got "${'9'.repeat(40)}" (invalid_request)`, 'what was sent, cut short');
    const forgedDispute = await admin.post(`/admin/statements/${received.uuid}/dispute`, { line: '2', reason: 'x' }, { csrf: false });
    t.equal(forgedDispute.status, 403);
    t.equal(
      (await inst.ctx.db.selectFrom('statements').select('state').where('id', '=', received.id).executeTakeFirstOrThrow()).state,
      'open',
      'refused forms change nothing',
    );
    const disputed = await admin.post(`/admin/statements/${received.uuid}/dispute`, { line: '2', reason: 'no flattrs of dan arrived' });
    t.equal(disputed.status, 303);
    t.equal(disputed.location, `/admin/statements/${received.uuid}?done=disputed`);
    const row = await inst.ctx.db.selectFrom('statements').select(['state', 'dispute']).where('id', '=', received.id).executeTakeFirstOrThrow();
    t.equal(row.state, 'disputed');
    t.same(row.dispute, [{ n: 2, reason: 'no flattrs of dan arrived' }]);
    const api = await inst.api('GET', `/api/v1/admin/statements/${received.uuid}?view=details`, { token: inst.adminToken });
    t.same(api.body.dispute, [{ n: 2, reason: 'no flattrs of dan arrived' }]);
    t.equal(
      (await inst.ctx.db.selectFrom('settlement_deliveries').select('body').execute()).filter((d) => d.body.includes('no flattrs of dan arrived')).length,
      1,
      'the reasons go to the issuer',
    );
    const shown = await admin.get(disputed.location!);
    t.match(textOf(shown), /Dispute sent to the issuer\..*State disputed.*2 https?:\/\/[^ ]+\/users\/dan 1 0\.45 no flattrs of dan arrived/);
    // A second line keeps the first line's reason.
    t.equal((await admin.post(`/admin/statements/${received.uuid}/dispute`, { line: '1', reason: 'two, not three' })).status, 303);
    t.same((await inst.ctx.db.selectFrom('statements').select('dispute').where('id', '=', received.id).executeTakeFirstOrThrow()).dispute, [
      { n: 1, reason: 'two, not three' },
      { n: 2, reason: 'no flattrs of dan arrived' },
    ]);
    t.match(textOf(await admin.get(`/admin/statements/${received.uuid}`)), /cora 3 1\.35 two, not three/);

    // One of ours that the peer disputed: the reasons shown, a correct button, no accept or dispute.
    const mine = await admin.get(`/admin/statements/${ours.uuid}`);
    t.match(textOf(mine), /dan 1 0\.45 never arrived/);
    t.match(mine.text, `action="/admin/statements/${ours.uuid}/correct"`);
    t.notMatch(mine.text, /\/accept"|\/dispute"/);
    const refused = await admin.post(`/admin/statements/${ours.uuid}/accept`);
    t.equal(refused.status, 403);
    t.match(textOf(refused), 'only the counterparty accepts a statement (forbidden)');

    // Settlements: we owe one (record payment), the peer owes another (confirm receipt).
    const weOwe = randomUUID();
    const theyOwe = randomUUID();
    const open = randomUUID();
    await inst.ctx.db
      .insertInto('settlements')
      .values([
        {
          id: weOwe,
          peer_origin: PEER,
          period: '2026-10',
          payable: 5_000_000n,
          receivable: 2_000_000n,
          state: 'accepted',
          reference: null,
          paid_at: null,
          settled_at: null,
        },
        {
          id: theyOwe,
          peer_origin: PEER,
          period: '2026-09',
          payable: 1_000_000n,
          receivable: 1_500_000n,
          state: 'paid',
          reference: 'PEER-77',
          paid_at: inst.clock.now(),
          settled_at: null,
          paid_with: '2026-09',
        },
        {
          id: open,
          peer_origin: 'https://other.example',
          period: '2026-10',
          payable: null,
          receivable: null,
          state: 'open',
          reference: null,
          paid_at: null,
          settled_at: null,
        },
      ])
      .execute();
    const settlements = await admin.get('/admin/settlements');
    t.equal(settlements.status, 200);
    const st = textOf(settlements);
    t.match(st, /https:\/\/peer\.example 2026-10 5\.00 2\.00 3\.00 we pay 3\.00 \(we pay\) accepted — Payment reference Record payment/);
    t.match(st, /https:\/\/peer\.example 2026-09 1\.00 1\.50 0\.50 the peer pays 0\.50 \(the peer pays\) paid PEER-77 Confirm receipt/);
    t.match(st, /https:\/\/other\.example 2026-10 — — — — — open — —/);
    t.match(textOf(await admin.get('/admin/settlements?period=2026-09')), /Settlements of 2026-09/);
    t.notMatch(textOf(await admin.get('/admin/settlements?period=2026-09')), '2026-10 5.00');
    t.equal((await admin.get('/admin/settlements?period=soon')).status, 400);

    t.equal((await admin.post(`/admin/settlements/${weOwe}/paid`, { reference: 'SEPA-1' }, { csrf: false })).status, 403);
    const empty = await admin.post(`/admin/settlements/${weOwe}/paid`, { reference: '' });
    t.equal(empty.status, 400);
    t.equal(fieldError(empty, `reference-${weOwe}`), "reference must be the payment's reference (1 to 200 characters) (invalid_request)");
    const twoRefs = await admin.postFields(`/admin/settlements/${weOwe}/paid`, [
      ['reference', 'A'],
      ['reference', 'B'],
    ]);
    t.equal(twoRefs.status, 400, 'a repeated reference: 400, not a 500');
    t.match(fieldError(twoRefs, `reference-${weOwe}`), /^reference: .*\(invalid_request\)$/);
    const padded = await admin.post(`/admin/settlements/${weOwe}/paid`, { reference: '   ' });
    t.equal(fieldError(padded, `reference-${weOwe}`), "reference must be the payment's reference (1 to 200 characters) (invalid_request)", 'trimmed first');
    const paid = await admin.post(`/admin/settlements/${weOwe}/paid`, { reference: ' SEPA-1 ' });
    t.equal(paid.status, 303);
    t.equal(paid.location, '/admin/settlements?done=paid');
    t.match(textOf(await admin.get(paid.location!)), /Payment recorded.*2026-10 5\.00 2\.00 3\.00 we pay 3\.00 \(we pay\) paid SEPA-1 —/);
    const confirmed = await admin.post(`/admin/settlements/${theyOwe}/confirm`);
    t.equal(confirmed.status, 303);
    t.match(
      textOf(await admin.get(confirmed.location!)),
      /Receipt confirmed: settled\..*2026-09 1\.00 1\.50 0\.50 the peer pays 0\.50 \(the peer pays\) settled PEER-77 —/,
    );
    const again = await admin.post(`/admin/settlements/${open}/confirm`);
    t.equal(again.status, 409);
    t.match(textOf(again), '(settlement_not_paid)');
    const api2 = (await inst.api('GET', '/api/v1/admin/settlements', { token: inst.adminToken })).body.items as { id: string; state: string }[];
    t.same(
      Object.fromEntries(api2.map((s) => [s.id, s.state])),
      {
        [weOwe]: 'paid',
        [theyOwe]: 'settled',
        [open]: 'open',
        [api2.find((s) => s.id !== weOwe && s.id !== theyOwe && s.id !== open)?.id ?? 'missing']: 'disputed',
      },
      'and the disputed statement made its period disputed',
    );
    t.match(
      textOf(await admin.get('/admin/peers')),
      /https:\/\/peer\.example pending unknown \S+ 1\.80 0\.00 0\.00 none -2\.50/,
      'the payments moved the peer account: -3.00 paid, +0.50 received',
    );
  });
});
