/**
 * The pages added after the first set, through app.inject on PostgreSQL and PGlite: the popular
 * pages and opting out of them, a creator changing a thing's title, a past month's page with what
 * its close charged and paid, and the admin's members (search, paging), invites, ledger check and
 * payouts. Each with its bad input (the API's codes next to the field) and its CSRF refusal.
 */
import t from 'tap';
import { registerMember } from '../../src/members/service.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { fieldError, startWeb, textOf } from '../helpers/web.ts';

await eachDatabase(t, async (t, kind) => {
  t.test('popular: most flattred things and creators, of the month and of all time; opted-out members never listed', async (t) => {
    const inst = await startWeb(t, kind);
    const cora = await inst.member('cora');
    const dan = await inst.member('dan');
    const ed = await inst.member('ed');
    const coraA = await thing(inst, cora, 'https://cora.example/a', 'Cora A');
    const coraB = await thing(inst, cora, 'https://cora.example/b', 'Cora B');
    const danA = await thing(inst, dan, 'https://dan.example/a', 'Dan A');
    const edA = await thing(inst, ed, 'https://ed.example/a', 'Ed Secret');
    const readers = await Promise.all(['r1', 'r2', 'r3'].map((name) => inst.member(name, { deposit: '10.00' })));
    const flattr = async (token: string, id: string) => {
      const r = await inst.api('POST', '/api/v1/flattrs', { token, body: { thing_id: id } });
      t.equal(r.status, 201);
      return r.body.id as string;
    };
    // November: Dan A ×3, Cora A ×2 (+1 withdrawn), Cora B ×1, Ed ×3.
    for (const r of readers) await flattr(r, danA);
    await flattr(readers[0]!, coraA);
    await flattr(readers[1]!, coraA);
    const withdrawn = await flattr(readers[2]!, coraA);
    t.equal((await inst.api('DELETE', `/api/v1/flattrs/${withdrawn}`, { token: readers[2] })).status, 204);
    await flattr(readers[0]!, coraB);
    for (const r of readers) await flattr(r, edA);

    // Ed opts out from his settings page; a visitor reads the page.
    const edPages = inst.browser();
    await edPages.signIn('ed');
    const settings = await edPages.get('/settings/profile');
    t.match(settings.text, /<input id="listed" name="listed" type="checkbox" checked/, 'listed by default');
    t.match(settings.text, /<label for="listed">List me and my things on the popular pages<\/label>/);
    const noToken = await edPages.post('/settings/profile', {}, { csrf: false });
    t.equal(noToken.status, 403, 'the settings form needs its CSRF token');
    t.match(textOf(await inst.browser().get('/popular')), 'Ed Secret', 'still listed after the refused form');
    const junk = await edPages.post('/settings/profile', { listed: 'maybe' });
    t.equal(junk.status, 400);
    t.equal(fieldError(junk, 'listed'), 'listed is a checkbox: "on" or absent (invalid_request)');
    const saved = await edPages.post('/settings/profile', {});
    t.equal(saved.status, 303);
    t.equal(saved.location, '/settings/profile?done=saved');
    const after = await edPages.get(saved.location!);
    t.match(textOf(after), 'Settings saved.');
    t.notMatch(after.text, /type="checkbox" checked/, 'the box is now unticked');

    const visitor = inst.browser();
    const month = await visitor.get('/popular');
    t.equal(month.status, 200);
    t.equal(month.setCookies.length, 0, 'a visitor gets no cookie');
    const text = textOf(month);
    t.match(text, 'Popular this month');
    t.match(text, /1 Dan A dan 3 2 Cora A cora 2 3 Cora B cora 1/, 'things by flattrs; the withdrawn flattr does not count');
    t.match(text, /1 cora 2 3 2 dan 1 3/, 'creators: cora (2 things, 3 flattrs) ties dan (1 thing, 3 flattrs), by name');
    t.notMatch(text, /Ed Secret|\bed\b/, 'an opted-out member and their things do not appear');

    // December: one more flattr of Cora B; this month is December, all time adds both months.
    inst.clock.set('2026-12-03T10:00:00Z');
    await flattr(readers[1]!, coraB);
    const december = textOf(await visitor.get('/popular'));
    t.match(december, /1 Cora B cora 1/);
    t.notMatch(december, 'Dan A');
    t.match(textOf(await visitor.get('/popular?period=2026-11')), /Popular in 2026-11 .*1 Dan A dan 3/);
    const all = textOf(await visitor.get('/popular/all'));
    t.match(all, 'Popular of all time');
    t.match(all, /1 Dan A dan 3 2 Cora A cora 2 3 Cora B cora 2/);
    t.match(all, /1 cora 2 4 2 dan 1 3/);
    t.notMatch(all, /Ed Secret|\bed\b/);

    // Ed ticks the box again: listed again, at once.
    await edPages.get('/settings/profile');
    t.equal((await edPages.post('/settings/profile', { listed: 'on' })).status, 303);
    t.match(textOf(await visitor.get('/popular/all')), /1 (Dan A dan|Ed Secret ed) 3 2 (Dan A dan|Ed Secret ed) 3/);

    const bad = await visitor.get('/popular?period=November');
    t.equal(bad.status, 400);
    t.equal(fieldError(bad, 'period'), 'period must be a month written YYYY-MM, got "November" (invalid_request)');
    t.match(textOf(await visitor.get('/popular?period=2020-01')), 'Nothing was flattred in 2020-01');
    t.equal((await inst.browser().get('/settings/profile')).status, 303, 'settings need a session');
  });

  t.test("a thing's owner changes its title; nobody else can", async (t) => {
    const inst = await startWeb(t, kind);
    const id = await thing(inst, await inst.member('cora'), 'https://cora.example/a', 'Old title');
    await inst.member('dan', { deposit: '5.00' });
    const cora = inst.browser();
    await cora.signIn('cora');
    const own = await cora.get(`/things/${id}`);
    t.match(own.text, `action="/things/${id}/title"`);
    t.match(own.text, /<input id="title" name="title" type="text" value="Old title"/);
    const mine = await cora.get('/creator');
    t.match(mine.text, `href="/things/${id}#edit"`, '/creator links to the form');

    const saved = await cora.post(`/things/${id}/title`, { title: '  New   title ' });
    t.equal(saved.status, 303);
    t.equal(saved.location, `/things/${id}?done=titled`);
    const page = textOf(await cora.get(saved.location!));
    t.match(page, 'Title saved.');
    t.match(page, /New title · Farthing|New title/);
    t.equal(
      (await inst.api('GET', `/api/v1/things/lookup?url=${encodeURIComponent('https://cora.example/a')}`)).body.title,
      'New title',
      'the thing itself changed',
    );

    const long = await cora.post(`/things/${id}/title`, { title: 'x'.repeat(201) });
    t.equal(long.status, 400);
    t.equal(fieldError(long, 'title'), 'title must be at most 200 characters (invalid_request)');
    t.match(long.text, /id="title"[^>]*aria-invalid="true"/);
    t.notMatch(fieldError(long, 'flattr') ?? '', /./, 'the error is next to the title, not the button');

    const forged = await cora.post(`/things/${id}/title`, { title: 'Forged' }, { csrf: false });
    t.equal(forged.status, 403);
    t.match(textOf(forged), '(forbidden)');

    const dan = inst.browser();
    await dan.signIn('dan');
    const other = await dan.get(`/things/${id}`);
    t.notMatch(other.text, /action="\/things\/[^"]+\/title"/, 'only the owner sees the form');
    const refused = await dan.post(`/things/${id}/title`, { title: 'Mine now' });
    t.equal(refused.status, 403);
    t.equal(fieldError(refused, 'flattr'), 'only the owner of a thing can change its title (forbidden)');
    t.equal((await dan.post('/things/00000000-0000-4000-8000-000000000000/title', { title: 'x' })).status, 404);

    const cleared = await cora.post(`/things/${id}/title`, { title: '' });
    t.equal(cleared.status, 303);
    t.match(textOf(await cora.get(`/things/${id}`)), /https:\/\/cora\.example\/a · Farthing|https:\/\/cora\.example\/a/);
    t.equal((await inst.api('GET', `/api/v1/things/lookup?url=${encodeURIComponent('https://cora.example/a')}`)).body.title, null, 'an empty title clears it');
    const visitor = await inst.browser().post(`/things/${id}/title`, { title: 'x' });
    t.equal(visitor.status, 403, 'a visitor without a CSRF cookie is refused first');
  });

  t.test("a past month's page: what the close charged, each share, what the member's things received", async (t) => {
    const inst = await startWeb(t, kind);
    const cora = await inst.member('cora', { deposit: '5.00' });
    const a = await thing(inst, cora, 'https://cora.example/a', 'Cora A');
    const b = await thing(inst, await inst.member('dan', { deposit: '5.00' }), 'https://dan.example/b', 'Dan B');
    const reader = await inst.member('reader', { deposit: '20.00', budget: '5.00' });
    for (const id of [a, b]) t.equal((await inst.api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: id } })).status, 201);
    const browser = inst.browser();
    await browser.signIn('reader');
    inst.clock.set('2026-12-01T00:30:00Z');

    const open = textOf(await browser.get('/dashboard/2026-11'));
    t.match(open, '2026-11 is not closed yet: nothing has been charged or paid for it so far.');
    t.match(open, /Cora A cora — Dan B dan —/);

    t.equal((await inst.api('POST', '/api/v1/admin/periods/2026-11/close', { token: inst.adminToken })).status, 200);
    const closed = await browser.get('/dashboard/2026-11');
    t.equal(closed.status, 200);
    const text = textOf(closed);
    t.match(text, 'Your month 2026-11');
    t.match(text, 'Charged 5.00 EUR Flattrs given 2 Received 0.00 EUR');
    t.match(text, 'Your budget was 5.00 EUR; the close charged 5.00 EUR.');
    t.match(text, /Cora A cora 2\.50 Dan B dan 2\.50/);
    t.match(closed.text, 'href="/export/flattrs.csv?period=2026-11"');
    const csv = await browser.get('/export/flattrs.csv?period=2026-11');
    t.match(csv.headers['content-type'], 'text/csv');
    t.match(csv.text, /"2026-11",[^\n]*,"https:\/\/cora\.example\/a","Cora A",[^\n]*,"2\.50"/);

    const creator = inst.browser();
    await creator.signIn('cora');
    const earned = textOf(await creator.get('/dashboard/2026-11'));
    t.match(earned, 'Charged 2.00 EUR Flattrs given 0 Received 2.25 EUR', "cora's idle budget was charged; her thing received 2.50 less the fee");
    t.match(earned, 'the close charged 2.00 EUR for a month without flattrs');
    t.match(earned, /Cora A 1 2\.25 0\.00/);

    const dashboard = await browser.get('/dashboard');
    t.match(textOf(dashboard), 'Your month so far (2026-12)');
    t.match(dashboard.text, '<a href="/dashboard/2026-11">2026-11</a>', 'the months link to their pages');
    const old = await browser.get('/dashboard?period=2026-11');
    t.equal(old.status, 303);
    t.equal(old.location, '/dashboard/2026-11', 'the old ?period= address still leads there');
    t.equal((await browser.get('/dashboard/2026-12')).location, '/dashboard', 'the current month is the dashboard');
    const typo = await browser.get('/dashboard/2026-13');
    t.equal(typo.status, 400);
    t.match(textOf(typo), 'period must be a month written YYYY-MM, got "2026-13" (invalid_request)');
    const future = await browser.get('/dashboard/2027-01');
    t.equal(future.status, 404);
    t.match(textOf(future), '2027-01 has not begun yet (not_found)');
    const visitor = await inst.browser().get('/dashboard/2026-11');
    t.equal(visitor.status, 303);
    t.equal(visitor.location, '/signin?next=%2Fdashboard%2F2026-11');
  });

  t.test('admin: members with search and paging, invites used and unused, the ledger check, payouts', async (t) => {
    const inst = await startWeb(t, kind, { env: { FARTHING_REGISTRATION: 'invite' } });
    for (let i = 1; i <= 52; i++) {
      await registerMember(inst.ctx, { username: `m_${String(i).padStart(2, '0')}`, password: 'member-password' }, { bypassRegistration: true });
    }
    const mx = await inst.member('mx01', { deposit: '20.00' });
    const admin = inst.browser();
    await admin.signIn('admin', 'admin-password');

    const first = await admin.get('/admin/members?q=m_');
    t.equal(first.status, 200);
    const firstText = textOf(first);
    t.match(firstText, /m_01 member 0\.00 (—|2\.00) yes/);
    t.match(firstText, 'm_50');
    t.notMatch(firstText, /m_51|mx01/, 'fifty a page; "_" is a letter to the search, not a wildcard');
    t.match(first.text, 'href="/admin/members?q=m_&amp;page=2" rel="next"');
    const second = textOf(await admin.get('/admin/members?q=m_&page=2'));
    t.match(second, /m_51 .* m_52/);
    t.notMatch(second, /m_50|mx01/);
    t.match(textOf(await admin.get('/admin/members?q=MX')), /mx01 member 20\.00 2\.00 yes/, 'any case; wallet and budget');
    const none = await admin.get('/admin/members?q=zzz');
    t.match(textOf(none), "No member's name contains “zzz”.");
    const badPage = await admin.get('/admin/members?page=0');
    t.equal(badPage.status, 400);
    t.match(textOf(badPage), 'page must be a whole number from 1 to 10000, got "0" (invalid_request)');
    const longQ = await admin.get(`/admin/members?q=${'a'.repeat(31)}`);
    t.equal(longQ.status, 400);
    t.equal(fieldError(longQ, 'q'), 'q must be at most 30 characters (usernames are no longer) (invalid_request)');

    // Invites: made here and by a member; one used by a sign-up.
    await admin.get('/admin/invites');
    const forged = await admin.post('/admin/invites', {}, { csrf: false });
    t.equal(forged.status, 403);
    const made = await admin.post('/admin/invites');
    t.equal(made.status, 303);
    const code = new URL(made.location!, 'https://a.example').searchParams.get('code')!;
    t.ok(code, 'the new code is shown after the redirect');
    const shown = await admin.get(made.location!);
    t.match(textOf(shown), `Invite made: send its link to the person you invite. `);
    t.match(shown.text, `https://a.example/signup?invite=${code}`);
    const memberCode = (await inst.api('POST', '/api/v1/me/invites', { token: mx })).body.code as string;
    t.ok(memberCode);
    const unused = textOf(await admin.get('/admin/invites'));
    t.match(unused, `${code} admin`);
    t.match(unused, `${memberCode} mx01`);
    t.equal((await inst.browser().signUp('newbie', 'newbie-password', code)).status, 303);
    const used = textOf(await admin.get('/admin/invites?state=used'));
    t.match(used, new RegExp(`${code} admin 2026-11-10 newbie 2026-11-10`));
    t.notMatch(used, memberCode);
    t.notMatch(textOf(await admin.get('/admin/invites?state=unused')), code);
    t.match(textOf(await admin.get('/admin/invites?state=all')), memberCode);
    const badState = await admin.get('/admin/invites?state=old');
    t.equal(badState.status, 400);
    t.match(textOf(badState), 'state must be unused, used or all, got "old" (invalid_request)');

    // The ledger check, each check with its result.
    const ledger = await admin.get('/admin/ledger');
    t.equal(ledger.status, 200);
    t.match(textOf(ledger), /Balanced ?: (\d+) of \1 checks pass/);
    t.match(ledger.text, /<tr id="check-balances_sum_to_zero"><td class="code">balances_sum_to_zero<\/td><td>ok<\/td>/);
    t.match(textOf(await admin.get('/admin')), /Balanced ?: \d+ of \d+ checks pass/);

    // Payouts: to send, mark paid with a reference, then only that reference is accepted again.
    const payout = await inst.api('POST', '/api/v1/me/payouts', { token: mx, body: { amount: '12.00' } });
    t.equal(payout.status, 201);
    const id = payout.body.id as string;
    const toSend = await admin.get('/admin/payouts');
    t.match(textOf(toSend), /mx01 12\.00 2026-11-10/);
    t.match(toSend.text, `action="/admin/payouts/${id}/paid"`);
    const empty = await admin.post(`/admin/payouts/${id}/paid`, { reference: '' });
    t.equal(empty.status, 400);
    t.match(fieldError(empty, `reference-${id}`), '(invalid_request)');
    const paid = await admin.post(`/admin/payouts/${id}/paid`, { reference: 'SEPA-9' });
    t.equal(paid.location, '/admin/payouts?state=paid&done=paid');
    const paidPage = textOf(await admin.get(paid.location!));
    t.match(paidPage, 'Payout recorded as paid.');
    t.match(paidPage, /mx01 12\.00 2026-11-10 paid 2026-11-10, reference SEPA-9/);
    t.match(textOf(await admin.get('/admin/payouts')), 'No payouts to send.');
    const twice = await admin.post(`/admin/payouts/${id}/paid`, { reference: 'SEPA-10' });
    t.equal(twice.status, 409);
    t.match(fieldError(twice, 'payout'), '(already_paid)');
    const badFilter = await admin.get('/admin/payouts?state=sent');
    t.equal(badFilter.status, 400);
    t.match(textOf(badFilter), 'state must be requested, paid or all, got "sent" (invalid_request)');

    const member = inst.browser();
    await member.signIn('mx01');
    for (const path of ['/admin/members', '/admin/invites', '/admin/ledger']) t.equal((await member.get(path)).status, 403, `${path} is for admins`);
    await member.get('/dashboard');
    t.equal((await member.post('/admin/invites')).status, 403, 'members cannot post the admin invite form');
  });
});
