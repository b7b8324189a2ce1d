/**
 * The inbox listeners' own rules (src/activitypub/inbox.ts), given activities as Fedify hands
 * them over after its checks, with a stub inbox context and no network: a Like is a flattr only
 * when its `context` is a period on the sender's own instance and its id is on the actor's
 * server; an activity id counts once forever; only the actor who liked may undo, and only until
 * a statement paid it. Between two live servers these are also tested in two-instances.test.ts;
 * the signature and key checks before them in inbox-forgery.test.ts.
 */
import { randomUUID } from 'node:crypto';
import type { InboxContext } from '@fedify/fedify';
import { Like, Undo } from '@fedify/vocab';
import t from 'tap';
import { onLike, onUndo } from '../../src/activitypub/inbox.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, thing } from '../helpers/instance.ts';

/** The listeners read nothing of their inbox context: anything they touched would throw. */
const fctx = new Proxy(
  {},
  {
    get: (_target, name) => {
      throw new Error(`the listener used the inbox context (${String(name)})`);
    },
  },
) as InboxContext<void>;

const PEER = 'https://b.example';
const ann = new URL(`${PEER}/users/ann`);

function like(object: string, options: { id?: string; actor?: URL; contexts?: string[] } = {}): Like {
  return new Like({
    id: new URL(options.id ?? `${PEER}/flattrs/${randomUUID()}`),
    actor: options.actor ?? ann,
    object: new URL(object),
    contexts: (options.contexts ?? [`${PEER}/periods/2026-11`]).map((c) => new URL(c)),
  });
}

await eachDatabase(t, async (t, kind) => {
  const inst = await startInstance(t, kind);
  const bob = await inst.member('bob');
  const thingIri = `https://a.example/things/${await thing(inst, bob, 'https://bob.example/a')}`;
  const rows = () =>
    inst.ctx.db
      .selectFrom('incoming_flattrs')
      .select(['activity_id', 'actor_iri', 'instance_origin', 'period', 'withdrawn_at'])
      .orderBy('received_at')
      .execute();

  t.test("a Like whose context is a period on its sender's instance is a flattr, counted once", async (t) => {
    const first = like(thingIri);
    await onLike(inst.ctx, fctx, first);
    t.match(await rows(), [{ activity_id: first.id?.href, actor_iri: ann.href, instance_origin: PEER, period: '2026-11', withdrawn_at: null }]);
    await onLike(inst.ctx, fctx, first);
    await onLike(inst.ctx, fctx, like(thingIri, { id: first.id?.href }));
    t.equal((await rows()).length, 1, 'the same activity id again (a replay) counts nothing');
  });

  t.test('a favourite, a foreign context, a borrowed id or an unknown object is no flattr', async (t) => {
    const before = (await rows()).length;
    await onLike(inst.ctx, fctx, like(thingIri, { contexts: [] }));
    await onLike(inst.ctx, fctx, like(thingIri, { contexts: ['https://c.example/periods/2026-11'] }));
    await onLike(inst.ctx, fctx, like(thingIri, { contexts: [`${PEER}/things/${randomUUID()}`] }));
    await onLike(inst.ctx, fctx, like(thingIri, { contexts: [`${PEER}/periods/2026-13`] }));
    await onLike(inst.ctx, fctx, like(thingIri, { id: `https://c.example/flattrs/${randomUUID()}` }));
    await onLike(inst.ctx, fctx, like(`https://a.example/things/${randomUUID()}`));
    await onLike(inst.ctx, fctx, like('https://a.example/users/bob'));
    t.equal((await rows()).length, before, 'none of them recorded');
  });

  t.test('the period is the one its context names, and a context among others is found', async (t) => {
    const december = like(thingIri, { contexts: ['https://c.example/periods/2026-10', `${PEER}/periods/2026-12`] });
    await onLike(inst.ctx, fctx, december);
    t.match(
      (await rows()).find((r) => r.activity_id === december.id?.href),
      { period: '2026-12' },
    );
  });

  t.test('only the actor who liked may undo it', async (t) => {
    const target = like(thingIri);
    await onLike(inst.ctx, fctx, target);
    const mallory = new URL('https://c.example/users/mallory');
    await onUndo(inst.ctx, fctx, new Undo({ id: new URL(`https://c.example/undo/${randomUUID()}`), actor: mallory, object: target.id }));
    await onUndo(inst.ctx, fctx, new Undo({ id: new URL(`${PEER}/undo/${randomUUID()}`), actor: new URL(`${PEER}/users/carl`), object: target.id }));
    t.equal((await rows()).find((r) => r.activity_id === target.id?.href)?.withdrawn_at, null, 'another server, another actor: nothing withdrawn');
    await onUndo(inst.ctx, fctx, new Undo({ id: new URL(`${target.id?.href}#undo`), actor: ann, object: target.id }));
    t.ok((await rows()).find((r) => r.activity_id === target.id?.href)?.withdrawn_at, 'its actor: withdrawn');
  });

  t.test('a flattr a statement has paid stays, whoever undoes it', async (t) => {
    const paid = like(thingIri);
    await onLike(inst.ctx, fctx, paid);
    await inst.ctx.db.updateTable('incoming_flattrs').set({ state: 'paid' }).where('activity_id', '=', paid.id!.href).execute();
    await onUndo(inst.ctx, fctx, new Undo({ id: new URL(`${paid.id?.href}#undo`), actor: ann, object: paid.id }));
    t.equal((await rows()).find((r) => r.activity_id === paid.id?.href)?.withdrawn_at, null);
  });
});
