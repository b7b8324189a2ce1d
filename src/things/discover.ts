/**
 * Finding the owner of a URL nobody here has registered, at its first flattr (product.md,
 * Federation): a fediverse post's `attributedTo` (Fedify's lookup does Mastodon's content
 * negotiation and follows an HTML page's `rel=alternate` link), a thing on another Farthing
 * instance (its `uri` is an ActivityPub object attributed to a member there), or a web page that
 * names its owner with `<link rel="payment" href>` (a thing's uri or an actor) or
 * `<meta name="fediverse:creator" content="@name@host">`.
 *
 * The owner is remembered in remote_actors with its inboxes and what software its instance runs:
 * a Farthing instance is paid by settlement statements, anyone else's shares are unclaimed.
 */
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import type { Executor } from '../ledger/accounts.ts';
import type { ActorRecord } from '../ports.ts';

export interface RemoteThing {
  /** What was flattred: the post's or page's URL. */
  url: string;
  /** The thing's own IRI: the ActivityPub object, when there is one. */
  uri: string | null;
  title: string | null;
  owner: ActorRecord;
}

export async function discoverRemoteThing(ctx: Context, url: string): Promise<RemoteThing> {
  // Signed with the instance actor's key: servers in "authorized fetch" mode answer only so.
  const dir = ctx.directory;
  const signed = { signing: 'always' } as const;
  const found = await dir.lookup(url, signed);
  if (found && found.kind !== 'actor') {
    const owner = await dir.author(found, signed);
    if (owner) return { url: found.url ?? url, uri: found.iri, title: found.title, owner };
  }
  const page = await dir.page(url);
  if (page) {
    for (const href of page.payment) {
      const target = await dir.lookup(href, signed);
      if (target?.kind === 'actor') return { url, uri: null, title: page.title, owner: target };
      const owner = target && (await dir.author(target, signed));
      // The page pays the Farthing thing it names: flattring the page flattrs that thing.
      if (owner && target) return { url: target.url ?? url, uri: target.iri, title: target.title ?? page.title, owner };
    }
    for (const handle of page.creators) {
      const [user, host] = handle.replace(/^@/, '').split('@') as [string, string];
      const actor = await dir.handle(user, host, signed);
      if (actor?.kind === 'actor') return { url, uri: null, title: page.title, owner: actor };
    }
    // Author links (rel="author", rel="me") to a fediverse profile.
    for (const href of page.authors) {
      const target = await dir.lookup(href, signed);
      if (target?.kind === 'actor') return { url, uri: null, title: page.title, owner: target };
    }
  }
  throw new AppError('not_found', 'nobody has claimed this URL yet, and no owner could be found for it', { field: 'url' });
}

/** The actor's row in remote_actors (inserted or refreshed), with its instance's software. */
export async function rememberActor(ctx: Context, db: Executor, actor: ActorRecord): Promise<bigint> {
  const inbox = actor.inbox;
  if (!inbox) throw new AppError('not_found', 'the owner of this URL has no inbox to tell of flattrs');
  const iri = new URL(actor.iri);
  const software = await ctx.directory.software(iri.href);
  const handle = actor.preferredUsername ? `@${actor.preferredUsername}@${iri.host}` : null;
  const row = await db
    .insertInto('remote_actors')
    .values({
      iri: iri.href,
      inbox,
      shared_inbox: actor.sharedInbox,
      handle,
      instance_origin: iri.origin,
      software,
      fetched_at: ctx.clock.now(),
    })
    .onConflict((oc) =>
      oc.column('iri').doUpdateSet((eb) => ({
        inbox: eb.ref('excluded.inbox'),
        shared_inbox: eb.ref('excluded.shared_inbox'),
        handle: eb.ref('excluded.handle'),
        software: eb.fn.coalesce(eb.ref('excluded.software'), eb.ref('remote_actors.software')),
        fetched_at: eb.ref('excluded.fetched_at'),
      })),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
