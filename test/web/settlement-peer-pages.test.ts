/**
 * The admin's statement page with a real peer: a statement the peer disputed is corrected from
 * the page (its Likes sent again, the next statement restating the month), and on the peer,
 * whose admin accepts by hand (FARTHING_SETTLEMENT_AUTO_ACCEPT=off), the correction is accepted
 * from the page and credits the creator. Then the settlement is paid and confirmed from the
 * settlements pages. Two instances over real HTTP; the pages through app.inject.
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { eventually } from '../helpers/network.ts';
import { balanced, closeBoth, creditedOf, pair, settlementOf } from '../helpers/settlement.ts';
import { Browser, textOf } from '../helpers/web.ts';

await eachDatabase(t, async (t, kind) => {
  const { a, b, bob } = await pair(t, kind, { b: { FARTHING_SETTLEMENT_AUTO_ACCEPT: 'off' } });
  // B loses the Like from A, so A's statement does not reconcile there.
  await b.ctx.db.deleteFrom('incoming_flattrs').execute();
  await closeBoth(t, a, b, '2026-11', '2026-12-01T00:30:00Z');
  const adminA = new Browser(a.app);
  await adminA.signIn('admin', 'admin-password');
  const adminB = new Browser(b.app);
  await adminB.signIn('admin', 'admin-password');
  const outOfA = async () =>
    (await a.api('GET', '/api/v1/admin/statements?direction=out&period=2026-11', { token: a.adminToken })).body.items as {
      id: string;
      state: string;
      sequence: number;
    }[];
  const intoB = async () =>
    (await b.api('GET', '/api/v1/admin/statements?direction=in&period=2026-11', { token: b.adminToken })).body.items as {
      id: string;
      state: string;
      sequence: number;
    }[];

  t.test('A corrects the disputed statement from its page', async (t) => {
    const disputed = await eventually(async () => (await outOfA()).find((s) => s.state === 'disputed'), 30_000, 'A told of the dispute');
    const uuid = disputed.id.split('/').pop()!;
    const page = await adminA.get(`/admin/statements/${uuid}`);
    t.equal(page.status, 200);
    t.match(textOf(page), `no flattrs of ${b.origin}/users/bob from your instance arrived here for 2026-11`, "the peer's reason next to its line");
    t.match(page.text, `action="/admin/statements/${uuid}/correct"`);
    t.notMatch(page.text, `action="/admin/statements/${uuid}/accept"`, 'an issuer does not accept its own statement');
    const corrected = await adminA.post(`/admin/statements/${uuid}/correct`);
    t.equal(corrected.status, 303);
    const next = await outOfA();
    t.same(
      next.map((s) => [s.sequence, s.state]),
      [
        [2, 'open'],
        [1, 'superseded'],
      ],
    );
    t.equal(corrected.location, `/admin/statements/${next[0]!.id.split('/').pop()}?done=corrected`, "to the correction's page");
    t.match(
      textOf(await adminA.get(corrected.location!)),
      /Correction issued: this is the new statement..*Sequence 2 Period 2026-11 Total 4.50 EUR State open/,
    );
  });

  t.test('B, accepting by hand, accepts the correction from its page: bob is credited', async (t) => {
    // The re-sent Like and the correction both reach B; B's admin decides.
    await eventually(async () => (await b.ctx.db.selectFrom('incoming_flattrs').select('id').execute()).length === 1, 30_000, 'the Like sent again');
    const correction = await eventually(async () => (await intoB()).find((s) => s.sequence === 2), 30_000, 'the correction at B');
    t.not(correction.state, 'accepted', 'not accepted without the admin');
    const before = await creditedOf(b, bob);
    const uuid = correction.id.split('/').pop()!;
    // Through the API of api.md too: a dispute with per-line reasons (the issuer is told).
    const disputed = await b.api('POST', `/api/v1/admin/statements/${uuid}/dispute`, {
      token: b.adminToken,
      body: { lines: [{ n: 1, reason: 'checking with bob first' }] },
    });
    t.equal(disputed.status, 200, disputed.text);
    t.match(disputed.body, { state: 'disputed', dispute: [{ n: 1, reason: 'checking with bob first' }] });
    const badDispute = await b.api('POST', `/api/v1/admin/statements/${uuid}/dispute`, { token: b.adminToken, body: { lines: [] } });
    t.equal(badDispute.status, 400);
    t.equal(badDispute.body.error.code, 'invalid_request');
    const page = await adminB.get(`/admin/statements/${uuid}`);
    t.match(page.text, `action="/admin/statements/${uuid}/accept"`);
    const accepted = await adminB.post(`/admin/statements/${uuid}/accept`);
    t.equal(accepted.status, 303);
    t.equal(accepted.location, `/admin/statements/${uuid}?done=accepted`);
    t.match(textOf(await adminB.get(accepted.location!)), 'accepted');
    t.equal(await creditedOf(b, bob), (Number(before) + 4.5).toFixed(2), 'bob credited 4.50, once');
    t.equal((await adminB.post(`/admin/statements/${uuid}/accept`)).status, 303, 'accepting again changes nothing');
    t.equal(await creditedOf(b, bob), (Number(before) + 4.5).toFixed(2));
    const viaApi = await b.api('POST', `/api/v1/admin/statements/${uuid}/accept`, { token: b.adminToken });
    t.equal(viaApi.status, 200, viaApi.text);
    t.equal(viaApi.body.state, 'accepted', 'the API agrees, and credits nothing more');
    t.equal(await creditedOf(b, bob), (Number(before) + 4.5).toFixed(2));
    const refused = await b.api('POST', `/api/v1/admin/statements/${uuid}/dispute`, { token: b.adminToken, body: { lines: [{ n: 1, reason: 'too late' }] } });
    t.equal(refused.status, 409, 'an accepted statement cannot be disputed');
  });

  t.test('the settlement is paid and confirmed from the settlements pages', async (t) => {
    const onB = await eventually(
      async () => {
        const s = await settlementOf(b, a, '2026-11');
        return s?.state === 'accepted' && s;
      },
      30_000,
      "B's settlement accepted",
    );
    await eventually(async () => (await settlementOf(a, b, '2026-11'))?.state === 'accepted', 30_000, 'A told of the acceptance');
    t.equal(onB.due_debtor, 'peer');
    const settlementsA = await adminA.get('/admin/settlements');
    const onA = await settlementOf(a, b, '2026-11');
    t.match(settlementsA.text, `action="/admin/settlements/${onA.id}/paid"`);
    const paid = await adminA.post(`/admin/settlements/${onA.id}/paid`, { reference: 'PAGE-SEPA' });
    t.equal(paid.status, 303);
    await eventually(async () => (await settlementOf(b, a, '2026-11'))?.state === 'paid', 20_000, 'B told of the payment');
    const settlementsB = await adminB.get('/admin/settlements');
    t.match(textOf(settlementsB), 'PAGE-SEPA');
    const confirmed = await adminB.post(`/admin/settlements/${onB.id}/confirm`);
    t.equal(confirmed.status, 303);
    await eventually(async () => (await settlementOf(a, b, '2026-11'))?.state === 'settled', 20_000, 'settled on both sides');
    await balanced(t, a, 'at the end');
    await balanced(t, b, 'at the end');
  });
});
