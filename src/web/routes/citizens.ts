/**
 * The pages behind the ids a member and this instance show the fediverse (issue 13):
 *
 * - /users/{username}: the member's profile for browsers (the actor itself goes to ActivityPub
 *   clients, bridge.ts): display name, avatar, bio, followers, their things with flattr buttons
 *   and counts, and `rel="me"` links to their linked fediverse accounts, so Mastodon can verify a
 *   profile field that points here. Verified accounts are listed; pending ones only as <link>
 *   in the head (Mastodon's verifier reads those too; a visitor is not told an unproven claim).
 * - /users/{username}/avatar: the avatar image (uploaded, else generated; members/avatar.ts).
 * - /flattrs/{id} and /posts/{id} when Fedify did not answer: 410 once withdrawn, 404 for an id
 *   nobody published, and a browser is sent to the thing's page.
 * - /periods/{YYYY-MM}: what a period is, for people (ActivityPub clients get the object).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { periodDescription, periodFacts } from '../../close/period-facts.ts';
import type { Context } from '../../context.ts';
import { AppError } from '../../core/errors.ts';
import { avatarPath, memberPath, periodIri, thingPath } from '../../core/iris.ts';
import { periodOf } from '../../core/period.ts';
import { publishedState } from '../../flattrs/published.ts';
import { avatarOf } from '../../members/avatar.ts';
import { followerCount } from '../../members/followers.ts';
import { profileOf } from '../../members/profile.ts';
import { findMember } from '../../members/service.ts';
import { type ThingView, thingView } from '../../things/service.ts';
import { externalLink, type Html, html, query } from '../html.ts';
import { csrfField, page, sendPage } from '../layout.ts';
import { type FlattrCounts, flattrCounts } from '../queries.ts';
import { csrfToken } from '../security.ts';
import { currentMember } from '../session.ts';
import { thingTitle } from '../views/thing.ts';

const AP_TYPES = /application\/activity\+json|application\/ld\+json/;
/** Things shown on a profile, newest first. */
const PROFILE_THINGS = 100;

export function citizenRoutes(app: FastifyInstance, ctx: Context): void {
  app.get<{ Params: { username: string } }>('/users/:username', async (request, reply) => {
    const { username } = request.params;
    const profile = username.length <= 30 ? await profileOf(ctx, username) : undefined;
    if (!profile) {
      // Usernames are unique ignoring case; the page (like the actor) lives at the exact one.
      const other = username.length <= 30 && !AP_TYPES.test(request.headers.accept ?? '') ? await findMember(ctx, username) : undefined;
      if (other) return reply.redirect(memberPath(other.username), 301);
      throw new AppError('not_found', 'no member is called that here');
    }
    const caller = await currentMember(ctx, request);
    const [things, followers, links] = await Promise.all([
      thingsOf(ctx, profile.id, profile.username),
      followerCount(ctx, profile.id),
      ctx.db.selectFrom('member_links').select(['actor_iri', 'handle', 'state']).where('member_id', '=', profile.id).orderBy('id').execute(),
    ]);
    const csrf = caller ? csrfToken(reply) : undefined;
    const host = new URL(ctx.config.origin).host;
    const verified = links.filter((l) => l.state === 'verified');
    const name = profile.display_name ?? profile.username;
    const head = html`<link rel="alternate" type="application/activity+json" href="${profile.url}">
${links.map((l) => meLinks(l).map((href) => html`<link rel="me" href="${href}">`))}`;
    const main = html`<div class="profile">
<img class="avatar" src="${avatarPath(profile.username, profile.avatar_uploaded ? new URL(profile.avatar).searchParams.get('v') : null)}" alt="${name}’s avatar" width="96" height="96">
<div><p class="handle">@${profile.username}@${host}</p>
<p><strong>${followers}</strong> ${followers === 1 ? 'follower' : 'followers'} in the fediverse · member since ${profile.created_at.toISOString().slice(0, 7)}</p></div>
</div>
${profile.bio ? html`<div class="bio">${profile.bio.split(/\n{2,}/).map((p) => html`<p>${p.split('\n').map((line, i) => html`${i > 0 ? html`<br>` : ''}${line}`)}</p>`)}</div>` : ''}
${
  verified.length > 0
    ? html`<h2>Elsewhere in the fediverse</h2><ul>${verified.map((l) => html`<li><a rel="me nofollow noopener" href="${l.actor_iri}">${l.handle ?? l.actor_iri}</a></li>`)}</ul>`
    : ''
}
<p class="muted">Follow ${name} from Mastodon or any fediverse server: search for <strong>@${profile.username}@${host}</strong>.</p>
<h2>Things</h2>
${things.length === 0 ? html`<p>${name} has no things to flattr yet.</p>` : html`<ul class="things">${things.map((t) => thingItem(t, caller?.username, csrf, request.url))}</ul>`}`;
    return sendPage(reply, page({ title: name, main, caller, csrf, head }));
  });

  app.get<{ Params: { username: string } }>('/users/:username/avatar', { config: { embed: 'image' } }, async (request, reply) => {
    const { username } = request.params;
    const image = username.length <= 30 ? await avatarOf(ctx, username) : undefined;
    if (!image) throw new AppError('not_found', 'no member is called that here');
    return reply.header('cache-control', 'public, max-age=3600').header('content-security-policy', "default-src 'none'").type(image.mediaType).send(image.body);
  });

  const dereference = (kind: 'flattr' | 'post') => async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const found = await publishedState(ctx, kind, request.params.id);
    if (!found) throw new AppError('not_found', `no such ${kind}`);
    if (found.state === 'gone') {
      if (AP_TYPES.test(request.headers.accept ?? '')) {
        const id = `${ctx.config.origin}/${kind === 'flattr' ? 'flattrs' : 'posts'}/${request.params.id.toLowerCase()}`;
        return reply
          .code(410)
          .type('application/activity+json')
          .send(JSON.stringify({ '@context': 'https://www.w3.org/ns/activitystreams', id, type: 'Tombstone' }));
      }
      const caller = await currentMember(ctx, request);
      return sendPage(
        reply,
        page({ title: 'Gone', caller, main: html`<p>This ${kind} was withdrawn: it is gone for good.</p><p><a href="/">Back to the front page</a></p>` }),
        410,
      );
    }
    return reply.redirect(thingPath(found.thingId), 303);
  };
  app.get('/flattrs/:id', dereference('flattr'));
  app.get('/posts/:id', dereference('post'));

  app.get<{ Params: { period: string } }>('/periods/:period', async (request, reply) => {
    const facts = await periodFacts(ctx, request.params.period);
    if (!facts) throw new AppError('not_found', 'this instance has no such period');
    const caller = await currentMember(ctx, request);
    const main = html`<p>${periodDescription(ctx, facts)}</p>
<ul class="figures">
<li>From<strong>${facts.start.toISOString().slice(0, 10)}</strong></li>
<li>Until<strong>${new Date(facts.end.getTime() - 1).toISOString().slice(0, 10)}</strong></li>
<li>State<strong>${facts.state}</strong></li>
</ul>
<p><a href="/popular${query({ period: facts.period })}">What was flattred most in ${facts.period}</a></p>`;
    const head = html`<link rel="alternate" type="application/activity+json" href="${periodIri(ctx.config.origin, facts.period)}">`;
    return sendPage(reply, page({ title: `The month ${facts.period}`, main, caller, head }));
  });
}

/** rel="me" targets for a linked account: its actor IRI, and the /@name page Mastodon, Hollo and Misskey show. */
function meLinks(link: { actor_iri: string; handle: string | null }): string[] {
  const hrefs = [link.actor_iri];
  const match = link.handle ? /^@([^@]+)@([^@]+)$/.exec(link.handle) : null;
  if (match) hrefs.push(`${new URL(link.actor_iri).protocol}//${match[2]}/@${match[1]}`);
  return hrefs;
}

async function thingsOf(ctx: Context, memberId: bigint, username: string): Promise<(ThingView & FlattrCounts)[]> {
  const rows = await ctx.db
    .selectFrom('things')
    .select(['id', 'url', 'title', 'owner_member_id', 'verified'])
    .where('owner_member_id', '=', memberId)
    .orderBy('created_at', 'desc')
    .limit(PROFILE_THINGS)
    .execute();
  const counts = await flattrCounts(
    ctx,
    rows.map((r) => r.id),
    periodOf(ctx.clock.now()),
  );
  return rows.map((r) => ({ ...thingView(ctx, { ...r, owner_username: username }), ...(counts.get(r.id) as FlattrCounts) }));
}

function thingItem(thing: ThingView & FlattrCounts, viewer: string | undefined, csrf: string | undefined, here: string): Html {
  const counts = html`<span class="muted">${thing.month} this month · ${thing.total} in all</span>`;
  const action = !viewer
    ? html`<a class="button" href="/signin${query({ next: here })}">Sign in to flattr</a>`
    : viewer === thing.owner.username
      ? ''
      : html`<form method="post" action="${thingPath(thing.id, 'flattr')}">${csrfField(csrf ?? '')}<button type="submit">Flattr “${thingTitle(thing)}”</button></form>`;
  return html`<li><div><a href="${thingPath(thing.id)}">${thingTitle(thing)}</a><br>${externalLink(thing.url)}<br>${counts}</div>${action}</li>`;
}
