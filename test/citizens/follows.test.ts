/**
 * A member followed from a Mastodon-shaped server (real HTTP): the server signs its Follow as
 * Mastodon does (draft-cavage, RSA) and checks every delivery to its inbox as Mastodon does
 * (signature over (request-target), host, date and digest; the key fetched and owned by the
 * activity's actor). The Follow is answered with a signed Accept and counted; a member who opts
 * in publishes each flattr to the follower as a public Create(Note) ("flattred <title>"), and its
 * withdrawal as a Delete; Undo(Follow) removes the follower; an activity nobody handles is logged
 * at debug, not error. Every id involved dereferences: the flattr's Like (410 once withdrawn),
 * the post, the period; a remote thing's local page sends ActivityPub clients to the original.
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { AP, mastodon } from '../helpers/mastodon.ts';
import { eventually, startNetworked } from '../helpers/network.ts';

const PUBLIC = 'https://www.w3.org/ns/activitystreams#Public';
/** Fedify compacts the public collection to "as:Public", which Mastodon reads as the same. */
const pub = (value: unknown) => (value === 'as:Public' ? PUBLIC : value);

await eachDatabase(t, async (t, kind) => {
  const masto = await mastodon(t, ['alice']);
  const a = await startNetworked(t, kind);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const bob = await a.member('bob', { deposit: '5.00', budget: '2.00' });
  const bobsThing = await thing(a, bob, 'https://bob.example/post', 'Bob’s <best> post');
  const getAp = (path: string) => a.api('GET', path, { headers: { accept: AP } });
  // Fedify's records go to the newest instance's logger: watch its error and debug lines.
  const logged: { level: string; message: string }[] = [];
  for (const level of ['error', 'debug'] as const) {
    const original = a.ctx.log[level].bind(a.ctx.log);
    (a.ctx.log as any)[level] = (...args: unknown[]) => {
      logged.push({ level, message: String(args.find((x) => typeof x === 'string') ?? '') });
      return (original as (...a: unknown[]) => void)(...args);
    };
  }
  const followId = `${masto.origin}/follows/1`;

  t.test('a Follow is answered with a signed Accept, and counted', async (t) => {
    const sent = await masto.send(`${a.origin}/users/ann/inbox`, { id: followId, type: 'Follow', object: `${a.origin}/users/ann` });
    t.equal(sent.status, 202, await sent.text());
    const accept = await eventually(async () => masto.deliveries.find((d) => d.activity.type === 'Accept'), 20_000, 'the Accept');
    t.same({ verified: accept.verified, reason: accept.reason }, { verified: true, reason: undefined }, 'Mastodon accepts its signature');
    t.equal(accept.inbox, '/users/alice/inbox');
    t.equal(accept.activity.actor, `${a.origin}/users/ann`);
    t.equal(accept.activity.object.id, followId, 'it accepts that very Follow');
    t.equal(accept.activity.object.type, 'Follow');
    t.equal((await getAp('/users/ann/followers')).body.totalItems, 1);
    t.same((await getAp('/users/ann/followers')).body.orderedItems ?? [], [], 'who follows is not listed to the world');
    t.match((await a.api('GET', '/users/ann', { headers: { accept: 'text/html' } })).text, '<strong>1</strong> follower in the fediverse');
    const again = await masto.send(`${a.origin}/users/ann/inbox`, { id: `${masto.origin}/follows/2`, type: 'Follow', object: `${a.origin}/users/ann` });
    t.equal(again.status, 202);
    await eventually(async () => masto.deliveries.filter((d) => d.activity.type === 'Accept').length === 2, 20_000, 'the second Accept');
    t.equal((await getAp('/users/ann/followers')).body.totalItems, 1, 'following twice is one follower');
  });

  t.test('an activity nobody handles is logged at debug, not error', async (t) => {
    const sent = await masto.send(`${a.origin}/inbox`, {
      id: `${masto.origin}/announces/1`,
      type: 'Announce',
      object: `${masto.origin}/users/alice/statuses/1`,
      to: [PUBLIC],
    });
    t.equal(sent.status, 202);
    await eventually(async () => logged.some((l) => l.level === 'debug' && l.message === 'activity not handled here'), 20_000, 'the debug line');
    t.same(
      logged.filter((l) => l.level === 'error'),
      [],
      'no error',
    );
  });

  t.test('a member who publishes: each flattr is a public post to the followers; a withdrawal deletes it', async (t) => {
    t.equal((await a.api('PUT', '/api/v1/me/profile', { token: ann, body: { publish_flattrs: true } })).status, 200);
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: bobsThing } });
    t.equal(made.status, 201, made.text);
    const create = await eventually(async () => masto.deliveries.find((d) => d.activity.type === 'Create'), 20_000, 'the Create');
    t.ok(create.verified, create.reason ?? 'verified');
    t.equal(create.inbox, '/inbox', 'to the shared inbox');
    const note = create.activity.object;
    t.equal(note.type, 'Note');
    t.same([pub(create.activity.to), create.activity.cc], [PUBLIC, `${a.origin}/users/ann/followers`], 'to Public, cc the followers');
    t.same([pub(note.to), note.cc], [PUBLIC, `${a.origin}/users/ann/followers`]);
    t.equal(note.attributedTo, `${a.origin}/users/ann`);
    t.equal(note.content, '<p>flattred <a href="https://bob.example/post" rel="nofollow noopener noreferrer" target="_blank">Bob’s &lt;best&gt; post</a></p>');
    t.match(note.id, new RegExp(`^${a.origin}/posts/[0-9a-f-]{36}$`));
    const post = await getAp(new URL(note.id).pathname);
    t.equal(post.status, 200, 'the post dereferences');
    t.equal(post.body.content, note.content);
    const like = await getAp(`/flattrs/${made.body.id}`);
    t.equal(like.status, 200, 'so does the flattr, now public');
    t.equal(like.body.type, 'Like');

    const cat = await a.member('cat', { deposit: '5.00', budget: '2.00' });
    const quiet = await a.api('POST', '/api/v1/flattrs', { token: cat, body: { thing_id: bobsThing } });
    t.equal(quiet.status, 201);
    t.equal(
      (await a.ctx.db.selectFrom('posts').select('id').where('flattr_id', '=', quiet.body.id).execute()).length,
      0,
      'a member who did not opt in posts nothing',
    );
    t.equal((await getAp(`/flattrs/${quiet.body.id}`)).status, 404, 'and their flattr of a local thing stays unpublished');

    t.equal((await a.api('DELETE', `/api/v1/flattrs/${made.body.id}`, { token: ann })).status, 204);
    const gone = await eventually(async () => masto.deliveries.find((d) => d.activity.type === 'Delete'), 20_000, 'the Delete');
    t.ok(gone.verified);
    t.equal(gone.activity.object.id, note.id);
    t.equal((await getAp(new URL(note.id).pathname)).status, 410, 'the post is gone');
    t.equal((await getAp(`/flattrs/${made.body.id}`)).status, 410, 'so is the Like');
  });

  t.test('ids dereference: Likes (200, 410, 404), periods, things as Pages, remote things', async (t) => {
    const toot = `${masto.origin}/users/alice/statuses/1`;
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: toot } });
    t.equal(made.status, 201, made.text);
    const like = await getAp(`/flattrs/${made.body.id}`);
    t.equal(like.status, 200);
    t.same(
      [like.body.type, like.body.id, like.body.object, like.body.context, like.body.actor],
      ['Like', `${a.origin}/flattrs/${made.body.id}`, toot, `${a.origin}/periods/2026-11`, `${a.origin}/users/ann`],
    );
    const sentLike = await eventually(async () => masto.deliveries.find((d) => d.activity.type === 'Like'), 20_000, 'the Like');
    t.equal(sentLike.activity.id, like.body.id, 'the id the outbox minted is the one that dereferences');
    const browser = await a.api('GET', `/flattrs/${made.body.id}`, { headers: { accept: 'text/html' } });
    t.equal(browser.status, 303, 'a browser is sent to the thing');
    t.equal((await getAp('/flattrs/00000000-0000-4000-8000-000000000000')).status, 404);
    t.equal((await getAp('/flattrs/not-a-uuid')).status, 404);

    const period = await getAp(sentLike.activity.context.replace(a.origin, ''));
    t.equal(period.status, 200);
    t.equal(period.body.id, `${a.origin}/periods/2026-11`);
    t.equal(period.body.startTime, '2026-11-01T00:00:00Z');
    t.equal(period.body.endTime, '2026-12-01T00:00:00Z');
    t.match(period.body.summary, 'split equally');
    const periodPage = await a.api('GET', '/periods/2026-11', { headers: { accept: 'text/html' } });
    t.equal(periodPage.status, 200);
    t.match(periodPage.text, 'The month 2026-11');
    t.equal((await getAp('/periods/2031-01')).status, 404, 'no future period');
    t.equal((await a.api('GET', '/periods/1999-01', { headers: { accept: 'text/html' } })).status, 404, 'none before the instance');

    const page = await getAp(`/things/${bobsThing}`);
    t.equal(page.status, 200);
    t.same([page.body.type, pub(page.body.to), page.body.url, page.body.attributedTo], ['Page', PUBLIC, 'https://bob.example/post', `${a.origin}/users/bob`]);
    t.equal(page.body.published, '2026-11-10T12:00:00Z');

    const remote = made.body.thing.id;
    const redirected = await getAp(`/things/${remote}`);
    t.equal(redirected.status, 302, 'a remote thing: ActivityPub clients go to the original');
    t.equal(redirected.headers.location, toot);
    const html = await a.api('GET', `/things/${remote}`, { headers: { accept: 'text/html' } });
    t.equal(html.status, 200);
    t.match(html.text, `<link rel="alternate" type="application/activity+json" href="${toot}">`);
  });

  t.test('Undo(Follow) removes the follower', async (t) => {
    const undo = await masto.send(`${a.origin}/users/ann/inbox`, {
      id: `${masto.origin}/follows/2#undo`,
      type: 'Undo',
      object: { id: `${masto.origin}/follows/2`, type: 'Follow', actor: masto.actor('alice'), object: `${a.origin}/users/ann` },
    });
    t.equal(undo.status, 202);
    await eventually(async () => (await getAp('/users/ann/followers')).body.totalItems === 0, 20_000, 'the follower to go');
    t.match((await a.api('GET', '/users/ann', { headers: { accept: 'text/html' } })).text, '<strong>0</strong> followers');
    t.same(
      logged.filter((l) => l.level === 'error'),
      [],
      'nothing logged as an error on the way',
    );
  });
});
