/**
 * Members as fediverse citizens, through the app (inject): the profile page at the actor's URL for
 * browsers (and for `Accept: *\/*`) while ActivityPub clients get the actor; the actor's name,
 * summary (the bio, escaped), icon, url and published; setting the display name, bio and avatar
 * through the API and the settings page, with every bad input refused and nothing changed: control
 * characters, lengths, a text file posing as a PNG, a picture over 2 MiB, a decompression bomb.
 */
import sharp from 'sharp';
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { multipart, photo, pngBomb } from '../helpers/images.ts';
import { thing } from '../helpers/instance.ts';
import { startWeb, textOf } from '../helpers/web.ts';

const AP = 'application/activity+json';

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind);
  const ann = await inst.member('ann');
  const thingId = await thing(inst, ann, 'https://ann.example/post', 'Ann’s post');
  const raw = (method: string, url: string, headers: Record<string, string>, payload?: Buffer) =>
    inst.app.inject({ method: method as 'GET', url, headers, ...(payload ? { payload } : {}) });

  t.test('content negotiation at /users/{username}', async (t) => {
    for (const accept of ['text/html', '*/*', 'text/html,application/xhtml+xml,*/*;q=0.8', '']) {
      const r = await raw('GET', '/users/ann', accept ? { accept } : {});
      t.equal(r.statusCode, 200, `Accept: ${accept || '(none)'}`);
      t.match(r.headers['content-type'], /^text\/html/, `Accept: ${accept || '(none)'} gets the page`);
    }
    for (const accept of [AP, 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"']) {
      const r = await raw('GET', '/users/ann', { accept });
      t.equal(r.statusCode, 200);
      t.match(r.headers['content-type'], /^application\/activity\+json/, accept);
      t.equal(JSON.parse(r.body).type, 'Person');
    }
    t.equal((await raw('GET', '/users/ann', { accept: 'image/png' })).statusCode, 406, 'a type we have not');
    const nobody = await raw('GET', '/users/nobody', { accept: 'text/html' });
    t.equal(nobody.statusCode, 404);
    t.match(nobody.headers['content-type'], /^text\/html/, 'an HTML 404 for a browser');
    const upper = await raw('GET', '/users/ANN', { accept: 'text/html' });
    t.equal(upper.statusCode, 301);
    t.equal(upper.headers.location, '/users/ann', 'the page lives at the exact username');
  });

  t.test('the profile page: name, avatar, things with their buttons and counts, rel="me"', async (t) => {
    const bob = await inst.member('bob', { deposit: '20.00', budget: '5.00' });
    t.equal((await inst.api('POST', '/api/v1/flattrs', { token: bob, body: { thing_id: thingId } })).status, 201);
    const annId = (await inst.ctx.db.selectFrom('members').select('id').where('username', '=', 'ann').executeTakeFirstOrThrow()).id;
    const now = inst.clock.now();
    await inst.ctx.db
      .insertInto('member_links')
      .values([
        {
          member_id: annId,
          actor_iri: 'https://social.example/users/ann',
          handle: '@ann@social.example',
          state: 'verified',
          created_at: now,
          verified_at: now,
        },
        {
          member_id: annId,
          actor_iri: 'https://other.example/users/maybe',
          handle: '@maybe@other.example',
          state: 'pending',
          created_at: now,
          verified_at: null,
        },
      ])
      .execute();
    const visitor = inst.browser();
    const page = await visitor.get('/users/ann');
    t.equal(page.status, 200);
    const text = textOf(page);
    t.match(text, '@ann@a.example');
    t.match(text, 'Ann’s post');
    t.match(text, '1 this month · 1 in all', 'the thing’s counts');
    t.match(page.text, '<img class="avatar" src="/users/ann/avatar"');
    t.match(page.text, '<a rel="me nofollow noopener" href="https://social.example/users/ann">@ann@social.example</a>', 'a verified account, shown');
    t.match(page.text, '<link rel="me" href="https://social.example/@ann">', 'and its Mastodon profile URL, for Mastodon’s check');
    t.match(page.text, '<link rel="me" href="https://other.example/users/maybe">', 'a pending one in the head only');
    t.notMatch(text, '@maybe@other.example', 'not shown as proven');
    t.match(page.text, `<link rel="alternate" type="application/activity+json" href="${inst.ctx.config.origin}/users/ann">`);
    t.match(page.text, 'Sign in to flattr', 'a visitor is asked to sign in');

    const reader = inst.browser();
    await reader.signIn('bob');
    const signedIn = await reader.get('/users/ann');
    t.match(signedIn.text, `<form method="post" action="/things/${thingId}/flattr">`, 'a member gets the flattr button');
    const own = inst.browser();
    await own.signIn('ann');
    t.notMatch((await own.get('/users/ann')).text, `action="/things/${thingId}/flattr"`, 'no button on one’s own things');
  });

  t.test('display name and bio: through the API, onto the actor, escaped', async (t) => {
    const before = await inst.api('GET', '/api/v1/me/profile', { token: ann });
    t.equal(before.status, 200);
    t.same(
      { display_name: before.body.display_name, bio: before.body.bio, publish_flattrs: before.body.publish_flattrs },
      { display_name: null, bio: null, publish_flattrs: false },
    );
    const set = await inst.api('PUT', '/api/v1/me/profile', {
      token: ann,
      body: { display_name: '  Ann <Writer> ', bio: 'I write.\nAbout <script>alert(1)</script> & more.\n\nSecond part.' },
    });
    t.equal(set.status, 200, set.text);
    t.equal(set.body.display_name, 'Ann <Writer>');

    const actor = (await raw('GET', '/users/ann', { accept: AP })).body;
    const person = JSON.parse(actor);
    t.equal(person.name, 'Ann <Writer>');
    t.equal(person.summary, '<p>I write.<br>About &lt;script&gt;alert(1)&lt;/script&gt; &amp; more.</p><p>Second part.</p>', 'the bio, escaped');
    t.same(person.icon, { type: 'Image', mediaType: 'image/png', url: `${inst.ctx.config.origin}/users/ann/avatar` }, 'the generated picture');
    t.equal(person.url, `${inst.ctx.config.origin}/users/ann`, 'url: the profile page');
    t.equal(person.published, '2026-11-10T12:00:00Z');

    const page = await inst.browser().get('/users/ann');
    t.match(page.text, '<h1>Ann &lt;Writer&gt;</h1>');
    t.match(page.text, 'About &lt;script&gt;alert(1)&lt;/script&gt; &amp; more.');
    t.notMatch(page.text, '<script>');

    for (const [body, field] of [
      [{ display_name: 'Ann\u0000' }, 'display_name'],
      [{ display_name: 'Ann\nSmith' }, 'display_name'],
      [{ display_name: 'evil\u202Enna' }, 'display_name'],
      [{ display_name: 'x'.repeat(101) }, 'display_name'],
      [{ bio: 'bell\u0007' }, 'bio'],
      [{ bio: 'y'.repeat(1001) }, 'bio'],
      [{ bio: 'y'.repeat(5000) }, 'bio'],
      [{ publish_flattrs: 'yes' }, 'publish_flattrs'],
      [{ display_name: 42 }, 'display_name'],
    ] as const) {
      const refused = await inst.api('PUT', '/api/v1/me/profile', { token: ann, body });
      t.equal(refused.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${refused.text.slice(0, 200)}`);
      t.equal(refused.body.error.code, 'invalid_request');
      t.match(refused.body.error.message, field);
    }
    const after = await inst.api('GET', '/api/v1/me/profile', { token: ann });
    t.same({ d: after.body.display_name, b: after.body.bio }, { d: 'Ann <Writer>', b: set.body.bio }, 'nothing changed');
    t.equal((await inst.api('PUT', '/api/v1/me/profile', { token: ann, body: { display_name: '' } })).body.display_name, null, 'empty clears');
    t.equal((await inst.api('PUT', '/api/v1/me/profile', { body: { display_name: 'x' } })).status, 401);
  });

  t.test('avatar upload: a real picture, re-encoded; wrong type, too big and a bomb refused', async (t) => {
    const put = (payload: Buffer, type = 'image/png', token = ann) =>
      raw('PUT', '/api/v1/me/avatar', { authorization: `Bearer ${token}`, 'content-type': type }, payload);
    const jpeg = await photo('jpeg', 1200, 800);
    t.ok((await sharp(jpeg).metadata()).exif, 'the upload carries EXIF');
    const ok = await put(jpeg, 'image/jpeg');
    t.equal(ok.statusCode, 200, ok.body);
    const profile = JSON.parse(ok.body);
    t.equal(profile.avatar_uploaded, true);
    t.match(profile.avatar, /\/users\/ann\/avatar\?v=[\w-]+$/, 'a URL that changes with the picture');
    const served = await raw('GET', '/users/ann/avatar', {});
    t.equal(served.statusCode, 200);
    t.equal(served.headers['content-type'], 'image/webp');
    t.equal(served.headers['cross-origin-resource-policy'], 'cross-origin', 'other servers and sites may show it');
    const meta = await sharp(served.rawPayload).metadata();
    t.same([meta.format, meta.width, meta.height, meta.exif], ['webp', 400, 400, undefined], '400×400 WebP, metadata stripped');
    const icon = JSON.parse((await raw('GET', '/users/ann', { accept: AP })).body).icon;
    t.same(icon, { type: 'Image', mediaType: 'image/webp', url: profile.avatar });

    for (const format of ['png', 'webp', 'gif'] as const) {
      const r = await put(await photo(format, 300, 500), 'application/octet-stream');
      t.equal(r.statusCode, 200, `${format}: ${r.body.slice(0, 200)}`);
    }
    const stored = await inst.ctx.db.selectFrom('avatars').select(['digest']).executeTakeFirstOrThrow();

    const refusals: [string, Buffer, string, number, string][] = [
      ['a text file posing as a PNG', Buffer.from('#!/bin/sh\necho not a picture\n'), 'image/png', 415, 'unsupported_media_type'],
      ['an SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/png', 415, 'unsupported_media_type'],
      [
        'a PNG signature over junk',
        Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 7)]),
        'image/png',
        422,
        'invalid_image',
      ],
      ['a decompression bomb (60000×60000)', pngBomb(), 'image/png', 422, 'invalid_image'],
      ['over 2 MiB', Buffer.concat([await photo('png', 10, 10), Buffer.alloc(2 * 1024 * 1024)]), 'image/png', 413, 'payload_too_large'],
      ['empty', Buffer.alloc(0), 'image/png', 422, 'invalid_image'],
      ['JSON', Buffer.from('{"avatar":1}'), 'application/json', 415, 'unsupported_media_type'],
    ];
    for (const [what, payload, type, status, code] of refusals) {
      const r = await put(payload, type);
      t.equal(r.statusCode, status, `${what}: ${r.body.slice(0, 200)}`);
      t.equal(JSON.parse(r.body).error.code, code, what);
    }
    const bomb = await put(pngBomb(), 'image/png');
    t.match(JSON.parse(bomb.body).error.message, '60000×60000', 'the bomb is refused by its declared size');
    t.same(await inst.ctx.db.selectFrom('avatars').select(['digest']).executeTakeFirstOrThrow(), stored, 'no refusal changed the avatar');
    t.equal((await put(await photo('png'), 'image/png', 'not-a-token')).statusCode, 401);

    const removed = await inst.api('DELETE', '/api/v1/me/avatar', { token: ann });
    t.equal(removed.status, 200);
    t.equal(removed.body.avatar_uploaded, false);
    t.equal((await raw('GET', '/users/ann/avatar', {})).headers['content-type'], 'image/png', 'the generated picture again');
    t.equal((await raw('GET', '/users/nobody/avatar', {})).statusCode, 404);
  });

  t.test('the settings page sets name, bio, picture and the publishing choice', async (t) => {
    const cat = await inst.member('cat');
    void cat;
    const browser = inst.browser();
    await browser.signIn('cat');
    const settings = await browser.get('/settings/profile');
    t.equal(settings.status, 200);
    t.match(settings.text, 'enctype="multipart/form-data"');
    t.notMatch(settings.text, 'name="publish_flattrs" type="checkbox" checked', 'publishing is off by default');
    const saved = await browser.post('/settings/profile/about', { display_name: 'Cat Power', bio: 'Line one\r\nLine two' });
    t.equal(saved.status, 303, saved.text.slice(0, 300));
    // A control character stops at the one input boundary (src/http/input-guard.ts), naming the field;
    // what only the profile's own rules refuse (a bidi override) is shown next to the field.
    const control = await browser.post('/settings/profile/about', { display_name: 'Cat\u0001', bio: 'kept' });
    t.equal(control.status, 400);
    t.match(control.text, 'display_name', 'the refusal names the field');
    const bad = await browser.post('/settings/profile/about', { display_name: 'Cat\u202e', bio: 'kept' });
    t.equal(bad.status, 400);
    t.match(bad.text, 'id="display_name-error"', 'the refusal is next to the field');
    t.match(bad.text, '>kept</textarea>', 'what was typed is kept');
    const twoBios = await browser.postFields('/settings/profile/about', [
      ['display_name', 'Cat Power'],
      ['bio', 'one'],
      ['bio', 'two'],
    ]);
    t.equal(twoBios.status, 400, 'a repeated field: its error, not a 500');
    t.match(twoBios.text, /id="bio-error">bio: /);
    t.match(twoBios.text, 'value="Cat Power"', 'the name typed is kept');
    const upload = async (data: Buffer, type = 'image/png', csrf = browser.csrf ?? '') => {
      const form = multipart({ _csrf: csrf }, { name: 'avatar', filename: 'me.png', type, data });
      const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      return raw('POST', '/settings/profile/avatar', { cookie, 'content-type': form.contentType }, form.body);
    };
    const empty = await upload(Buffer.alloc(0));
    t.equal(empty.statusCode, 400, 'an empty file: its error, not a 500');
    t.match(empty.body, /id="avatar-error">choose a picture to upload/);
    const textForm = multipart(
      { _csrf: browser.csrf ?? '', avatar: 'not a file' },
      { name: 'other', filename: 'x.png', type: 'image/png', data: await photo('png') },
    );
    const asText = await raw(
      'POST',
      '/settings/profile/avatar',
      { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': textForm.contentType },
      textForm.body,
    );
    t.equal(asText.statusCode, 400, 'the avatar field sent as text: refused next to the field');
    t.match(asText.body, /id="avatar-error">choose a picture to upload/);
    t.equal((await inst.api('GET', '/api/v1/me/profile', { token: await tokenOf('cat') })).body.avatar_uploaded, false, 'no picture was set');
    const up = await upload(await photo('png', 600, 600));
    t.equal(up.statusCode, 303, up.body.slice(0, 500));
    const wrong = await upload(Buffer.from('not an image'));
    t.equal(wrong.statusCode, 415);
    t.match(wrong.body, 'id="avatar-error"');
    t.equal((await upload(pngBomb())).statusCode, 422);
    t.equal((await upload(await photo('png'), 'image/png', 'forged')).statusCode, 403, 'the CSRF check holds for uploads');
    const publish = await browser.post('/settings/profile', { listed: 'on', publish_flattrs: 'on' });
    t.equal(publish.status, 303);
    const me = await inst.api('GET', '/api/v1/me/profile', { token: await tokenOf('cat') });
    t.same(
      { d: me.body.display_name, b: me.body.bio, a: me.body.avatar_uploaded, p: me.body.publish_flattrs },
      { d: 'Cat Power', b: 'Line one\nLine two', a: true, p: true },
    );
  });

  async function tokenOf(username: string): Promise<string> {
    return (await inst.api('POST', '/api/v1/tokens', { body: { username, password: `${username}-password` } })).body.token;
  }
});
