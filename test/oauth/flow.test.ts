/**
 * OAuth 2 for third-party apps, end to end on both databases: an app registers (form or JSON),
 * a signed-in member approves it on the consent page (session cookie and CSRF token), the code and
 * its PKCE verifier make a token, the token works only within its scopes, and every refusal the
 * protocol asks for happens: wrong verifier, replayed, expired or foreign codes, wrong client
 * secret, no PKCE or plain PKCE, unregistered redirect URIs, a denial, a forged form; revocation
 * by the app and by the member from their settings ends the token at once.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { startWeb, textOf } from '../helpers/web.ts';
import { authorizeApp, authorizeUrl, codeOf, consent, hiddenFields, pkce, registerClient, tokenRequest } from './helpers.ts';

eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind);
  await inst.member('alice', { deposit: '20.00', budget: '5.00' });
  const bob = await inst.member('bob');
  const thingId = await thing(inst, bob, 'https://bob.example/post', 'A post');
  const alice = inst.browser();
  t.equal((await alice.signIn('alice')).status, 303, 'alice signs in');

  // --- registration -------------------------------------------------------------------------
  const form = await inst.app.inject({
    method: 'POST',
    url: '/api/v1/apps',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      client_name: 'Page Flattrer',
      redirect_uris: 'https://app.example/callback\nmyapp://oauth',
      scopes: 'read flattr',
      website: 'https://app.example',
    }).toString(),
  });
  t.equal(form.statusCode, 200, 'an app registers with a form, as Mastodon clients do');
  const app = JSON.parse(form.body);
  t.match(app, {
    id: String,
    name: 'Page Flattrer',
    client_id: String,
    client_secret: String,
    redirect_uri: 'https://app.example/callback\nmyapp://oauth',
    redirect_uris: ['https://app.example/callback', 'myapp://oauth'],
    scopes: ['read', 'flattr'],
  });
  const stored = await inst.ctx.db.selectFrom('oauth_apps').select('client_secret_hash').where('client_id', '=', app.client_id).executeTakeFirstOrThrow();
  t.same(Buffer.from(stored.client_secret_hash), createHash('sha256').update(app.client_secret).digest(), 'only the SHA-256 of the client secret is stored');

  const json = await inst.api('POST', '/api/v1/apps', { body: { client_name: 'Reader', redirect_uris: ['https://reader.example/cb'] } });
  t.equal(json.status, 200, 'or with JSON');
  t.same(json.body.scopes, ['read'], 'the default scope is read');
  for (const [body, why] of [
    [{ client_name: 'X', redirect_uris: 'https://x.example/cb', scopes: 'read write' }, 'an unknown scope'],
    [{ client_name: 'X', redirect_uris: 'javascript:alert(1)' }, 'a javascript: redirect URI'],
    [{ client_name: 'X', redirect_uris: 'https://x.example/cb#frag' }, 'a redirect URI with a fragment'],
    [{ client_name: 'X', redirect_uris: 'not a uri' }, 'a relative redirect URI'],
    [{ redirect_uris: 'https://x.example/cb' }, 'no client_name'],
  ] as const) {
    const r = await inst.api('POST', '/api/v1/apps', { body });
    t.equal(r.status, 400, `refused: ${why}`);
    t.equal(r.body?.error?.code, 'invalid_request', `invalid_request: ${why}`);
  }

  // --- consent --------------------------------------------------------------------------------
  const first = pkce();
  const url = authorizeUrl(app, { scope: 'read flattr', code_challenge: first.challenge });
  const stranger = await inst.browser().get(url);
  t.equal(stranger.status, 303, 'a visitor is sent to sign in first');
  t.match(stranger.location, /^\/signin\?next=%2Foauth%2Fauthorize/, '...and comes back to the consent page');

  const { page, answer } = await consent(alice, url);
  const words = textOf(page);
  t.match(words, /Page Flattrer \( https:\/\/app\.example \) asks to use your Farthing account alice/, 'the page names the app and the member');
  t.match(words, 'See your account', 'read in plain words');
  t.match(words, 'Flattr things and withdraw flattrs', 'flattr in plain words');
  t.notMatch(words, 'Register things that you own', 'scopes not asked for are not listed');
  t.match(words, 'https://app.example', 'and where the member goes back to');
  t.match(String(page.headers['content-security-policy']), "form-action 'self' https://app.example;", 'the form may lead to the app');
  t.equal(answer.status, 303, 'approving redirects');
  const firstCode = codeOf(answer);
  t.equal(firstCode.state, 'state-123', "with the app's state");
  t.ok(answer.location?.startsWith('https://app.example/callback?code='), 'to the redirect URI');

  const forged = await alice.post('/oauth/authorize', { ...hiddenFields(page), _csrf: 'forged', decision: 'approve' });
  t.equal(forged.status, 403, 'a form without the right CSRF token is refused');
  t.equal(forged.location, undefined, '...and sends no code anywhere');

  // --- the token endpoint -------------------------------------------------------------------
  const exchange = (code: string, verifier: string, extra: Record<string, string> = {}) =>
    tokenRequest(inst, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'https://app.example/callback',
      code_verifier: verifier,
      client_id: app.client_id,
      client_secret: app.client_secret,
      ...extra,
    });

  const wrongVerifier = await exchange(firstCode.code, pkce().verifier);
  t.equal(wrongVerifier.status, 400, 'a wrong verifier is refused');
  t.same(
    wrongVerifier.body,
    { error: 'invalid_grant', error_description: 'the code_verifier does not match the code_challenge' },
    "as invalid_grant, in OAuth's error shape",
  );
  t.equal((await exchange(firstCode.code, first.verifier)).body.error, 'invalid_grant', 'and the code is spent: a failed attempt burns it');

  const second = pkce();
  const code2 = codeOf((await consent(alice, authorizeUrl(app, { scope: 'read flattr', code_challenge: second.challenge }))).answer).code;
  t.equal((await exchange(code2, second.verifier, { client_secret: 'fcs_wrong' })).status, 401, 'a wrong client secret is invalid_client');
  t.equal((await exchange(code2, second.verifier, { client_secret: 'fcs_wrong' })).body.error, 'invalid_client');
  const basic = Buffer.from(`${encodeURIComponent(app.client_id)}:${encodeURIComponent(app.client_secret)}`).toString('base64');
  const granted = await tokenRequest(
    inst,
    { grant_type: 'authorization_code', code: code2, redirect_uri: 'https://app.example/callback', code_verifier: second.verifier },
    { authorization: `Basic ${basic}` },
  );
  t.equal(granted.status, 200, 'the right verifier gets a token (client_secret_basic here)');
  t.match(granted.body, {
    access_token: String,
    token_type: 'Bearer',
    scope: 'read flattr',
    created_at: Math.floor(Date.parse('2026-11-10T12:00:00Z') / 1000),
  });
  t.equal(granted.headers['cache-control'], 'no-store', 'token answers are not cached');
  const token = granted.body.access_token as string;

  // --- scoped calls -------------------------------------------------------------------------
  t.equal((await inst.api('GET', '/api/v1/me', { token })).body.username, 'alice', 'read: GET /me works');
  const flattr = await inst.api('POST', '/api/v1/flattrs', { token, body: { thing_id: thingId } });
  t.equal(flattr.status, 201, 'flattr: POST /flattrs works');
  const noThings = await inst.api('POST', '/api/v1/things', { token, body: { url: 'https://alice.example/x' } });
  t.equal(noThings.status, 403, 'a call needing another scope is refused');
  t.equal(noThings.body.error.code, 'forbidden');
  t.match(noThings.body.error.message, "lacks the scope 'things'", 'naming the scope');
  const noAccount = await inst.api('PUT', '/api/v1/me/budget', { token, body: { amount: 'not an amount' } });
  t.equal(noAccount.status, 403, 'the scope is checked before the body');
  t.match(noAccount.body.error.message, "'account'");

  // --- replay ---------------------------------------------------------------------------------
  const replay = await exchange(code2, second.verifier);
  t.equal(replay.body.error, 'invalid_grant', 'a code is used once');
  t.equal((await inst.api('GET', '/api/v1/me', { token })).status, 401, 'and a replay revokes the token the code made');

  // --- codes are bound and short-lived -------------------------------------------------------
  const other = await registerClient(inst, 'Other App', 'read flattr', 'https://other.example/cb');
  const third = pkce();
  const code3 = codeOf((await consent(alice, authorizeUrl(app, { code_challenge: third.challenge }))).answer).code;
  const foreign = await tokenRequest(inst, {
    grant_type: 'authorization_code',
    code: code3,
    redirect_uri: 'https://app.example/callback',
    code_verifier: third.verifier,
    client_id: other.client_id,
    client_secret: other.client_secret,
  });
  t.equal(foreign.body.error, 'invalid_grant', 'another client cannot use the code');
  t.equal((await exchange(code3, third.verifier)).status, 200, 'the code still works for its own client');
  const fourth = pkce();
  const code4 = codeOf((await consent(alice, authorizeUrl(app, { code_challenge: fourth.challenge }))).answer).code;
  t.equal(
    (await exchange(code4, fourth.verifier, { redirect_uri: 'myapp://oauth' })).body.error,
    'invalid_grant',
    'the redirect URI must be the one the code was issued for',
  );
  const fifth = pkce();
  const code5 = codeOf((await consent(alice, authorizeUrl(app, { code_challenge: fifth.challenge }))).answer).code;
  inst.clock.advance(10 * 60 * 1000 + 1);
  t.match((await exchange(code5, fifth.verifier)).body, { error: 'invalid_grant', error_description: /expired/ }, 'a code lives ten minutes');
  t.equal(
    (await tokenRequest(inst, { grant_type: 'password', client_id: app.client_id, client_secret: app.client_secret })).body.error,
    'unsupported_grant_type',
  );

  // --- authorization requests that are refused ----------------------------------------------
  const noPkce = await alice.get(authorizeUrl(app, {}));
  t.equal(noPkce.status, 303, 'without PKCE the app is told so');
  const noPkceUrl = new URL(noPkce.location as string);
  t.equal(noPkceUrl.searchParams.get('error'), 'invalid_request');
  t.match(noPkceUrl.searchParams.get('error_description'), 'code_challenge');
  t.equal(noPkceUrl.searchParams.get('state'), 'state-123');
  const plain = await alice.get(authorizeUrl(app, { code_challenge: fifth.verifier, code_challenge_method: 'plain' }));
  t.match(new URL(plain.location as string).searchParams.get('error_description'), 'S256', 'plain PKCE is refused');
  const badScope = await alice.get(authorizeUrl(app, { scope: 'read things', code_challenge: fifth.challenge }));
  t.equal(new URL(badScope.location as string).searchParams.get('error'), 'invalid_scope', 'a scope the app did not register is invalid_scope');
  const unknownClient = await alice.get(authorizeUrl({ ...app, client_id: 'nobody' }, { code_challenge: fifth.challenge }));
  t.equal(unknownClient.status, 400, 'an unknown client gets no redirect');
  t.match(textOf(unknownClient), 'no app with this client_id');
  const elsewhere = await alice.get(authorizeUrl(app, { redirect_uri: 'https://evil.example/cb', code_challenge: fifth.challenge }));
  t.equal(elsewhere.status, 400, 'an unregistered redirect URI gets no redirect');
  t.equal(elsewhere.location, undefined);

  const denied = (await consent(alice, authorizeUrl(app, { code_challenge: fifth.challenge }), 'deny')).answer;
  t.equal(denied.status, 303, 'denying goes back to the app');
  const deniedUrl = new URL(denied.location as string);
  t.equal(deniedUrl.searchParams.get('error'), 'access_denied');
  t.equal(deniedUrl.searchParams.get('state'), 'state-123');
  t.equal(deniedUrl.searchParams.get('code'), null, 'with no code');

  // --- admin scope only for admins ----------------------------------------------------------
  const adminApp = await registerClient(inst, 'Admin Tool', 'read flattr admin');
  const onlyAdmin = await alice.get(authorizeUrl(adminApp, { scope: 'admin', code_challenge: fifth.challenge }));
  t.equal(new URL(onlyAdmin.location as string).searchParams.get('error'), 'invalid_scope', 'a member cannot grant admin');
  const aliceAdminApp = await authorizeApp(inst, alice, adminApp, 'read admin');
  t.equal(aliceAdminApp.scope, 'read', 'asked for read admin, a member grants read only');
  const root = inst.browser();
  await root.signIn('admin');
  const adminToken = await authorizeApp(inst, root, adminApp, 'read admin');
  t.equal(adminToken.scope, 'read admin', 'an admin grants admin');
  t.equal((await inst.api('GET', '/api/v1/admin/ledger/check', { token: adminToken.access_token })).status, 200, 'admin: an admin endpoint works');
  const adminFlattr = await inst.api('POST', '/api/v1/flattrs', { token: adminToken.access_token, body: { thing_id: thingId } });
  t.equal(adminFlattr.status, 403, 'but not one of another scope');
  t.match(adminFlattr.body.error.message, "'flattr'");

  // --- revocation -----------------------------------------------------------------------------
  const byApp = await authorizeApp(inst, alice, app);
  const revoke = (tokenValue: string, client = app) =>
    inst.app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token: tokenValue, client_id: client.client_id, client_secret: client.client_secret } });
  t.equal((await revoke(byApp.access_token, other)).statusCode, 200, 'another app revoking it answers 200 (RFC 7009)...');
  t.equal((await inst.api('GET', '/api/v1/me', { token: byApp.access_token })).status, 200, '...but changes nothing');
  t.equal((await revoke(byApp.access_token)).statusCode, 200, 'the app revokes its token');
  t.equal((await inst.api('GET', '/api/v1/me', { token: byApp.access_token })).status, 401, 'revoked: 401');

  const kept = await authorizeApp(inst, alice, app);
  const settings = await alice.get('/settings/apps');
  t.equal(settings.status, 200);
  t.match(textOf(settings), 'Page Flattrer', 'the member sees the apps they authorized');
  t.match(textOf(settings), 'Flattr things and withdraw flattrs', 'with what each may do');
  const revokeForm = await alice.post(`/settings/apps/${app.id}/revoke`, { _csrf: 'forged' });
  t.equal(revokeForm.status, 403, 'revoking needs the CSRF token');
  t.equal((await inst.api('GET', '/api/v1/me', { token: kept.access_token })).status, 200);
  await alice.get('/settings/apps');
  const revoked = await alice.post(`/settings/apps/${app.id}/revoke`);
  t.equal(revoked.status, 303, 'the member revokes the app');
  t.equal((await inst.api('GET', '/api/v1/me', { token: kept.access_token })).status, 401, 'and its token stops working at once');
  const after = textOf(await alice.get('/settings/apps?done=revoked'));
  t.match(after, 'Access revoked');
  t.notMatch(after, 'Page Flattrer', 'the app is gone from the list');
  const bobBrowser = inst.browser();
  await bobBrowser.signIn('bob');
  await bobBrowser.get('/settings/apps');
  t.equal((await bobBrowser.post(`/settings/apps/${adminApp.id}/revoke`)).status, 404, "a member cannot revoke another member's app");
  t.equal((await inst.api('GET', '/api/v1/me', { token: aliceAdminApp.access_token })).status, 200, "...and alice's token of it still works");

  // --- out of band ---------------------------------------------------------------------------
  const oob = await registerClient(inst, 'Desk App', 'read', 'urn:ietf:wg:oauth:2.0:oob');
  const six = pkce();
  const shown = (await consent(alice, authorizeUrl(oob, { code_challenge: six.challenge }))).answer;
  t.equal(shown.status, 200, 'an out-of-band app gets its code shown');
  const oobCode = /<code class="code" id="code">([^<]+)<\/code>/.exec(shown.text)?.[1] as string;
  const oobToken = await tokenRequest(inst, {
    grant_type: 'authorization_code',
    code: oobCode,
    redirect_uri: 'urn:ietf:wg:oauth:2.0:oob',
    code_verifier: six.verifier,
    client_id: oob.client_id,
    client_secret: oob.client_secret,
  });
  t.equal(oobToken.body.scope, 'read', 'and exchanges it');

  // --- an installed app's own scheme ----------------------------------------------------------
  const seven = pkce();
  const custom = await consent(alice, authorizeUrl(app, { redirect_uri: 'myapp://oauth', code_challenge: seven.challenge }));
  t.match(String(custom.page.headers['content-security-policy']), "form-action 'self' myapp:;", "the form may lead to the app's scheme");
  t.match(textOf(custom.page), 'you go back to myapp://oauth');
  t.ok(custom.answer.location?.startsWith('myapp://oauth?code='), 'and the code goes there');

  // --- password tokens keep every scope of the role -----------------------------------------
  t.equal(
    (await inst.api('POST', '/api/v1/things', { token: bob, body: { url: 'https://bob.example/other' } })).status,
    201,
    'a password token needs no OAuth',
  );
});
