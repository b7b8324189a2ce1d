/**
 * Issue 12, the inbox: a hostile server on loopback tries to flattr, and to withdraw a flattr,
 * as a member of another instance. Its three ways (a Signature header naming `keyId` twice, a
 * JSON-LD @context that moves `actor` to another term, and a key document merely claiming the
 * victim as owner) are refused with 401 and record nothing, and an Undo withdraws nothing.
 * Genuine Likes from the same servers still count. Then the listeners' own check (inbox-auth.ts)
 * is driven directly through the queue, as if a forgery had got past the door: a queued Like
 * whose verifying key, Linked Data signature or proof is not the actor's is dropped.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJwk, importJwk, signRequest } from '@fedify/fedify';
import t, { type Test } from 'tap';
import { KyselyMessageQueue } from '../../src/activitypub/message-queue.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { close, eventually, listen, startNetworked } from '../helpers/network.ts';

const AP = 'application/activity+json';
const AS = 'https://www.w3.org/ns/activitystreams';

/** The hostile server: its own actor (/actor) and a key document (/claims) whose owner is `victim`. */
async function hostileServer(t: Test, victim: () => string) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  let origin = '';
  const server = createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?', 1)[0];
    const actor = (id: string, owner: string) => ({
      '@context': [AS, 'https://w3id.org/security/v1'],
      id,
      type: 'Person',
      preferredUsername: 'mallory',
      inbox: `${origin}/inbox`,
      publicKey: { id: `${id}#main-key`, owner, publicKeyPem: pem },
    });
    if (path === '/actor') return res.writeHead(200, { 'content-type': AP }).end(JSON.stringify(actor(`${origin}/actor`, `${origin}/actor`)));
    if (path === '/claims') return res.writeHead(200, { 'content-type': AP }).end(JSON.stringify(actor(`${origin}/claims`, victim())));
    res.writeHead(404).end();
  });
  origin = `http://127.0.0.1:${await listen(server)}`;
  t.teardown(() => close(server));
  const key = await importJwk(
    await exportJwk(
      await crypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, [
        'sign',
      ]),
    ),
    'private',
  );
  return { origin, actor: `${origin}/actor`, ownKey: `${origin}/actor#main-key`, claimingKey: `${origin}/claims#main-key`, key };
}

await eachDatabase(t, async (t, kind) => {
  const a = await startNetworked(t, kind);
  const b = await startNetworked(t, kind);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const bob = await b.member('bob');
  const postUri = `${b.origin}/things/${await thing(b, bob, 'https://bob.example/posts/1')}`;
  const annActor = `${a.origin}/users/ann`;
  const annKey = `${annActor}#main-key`;
  const evil = await hostileServer(t, () => annActor);

  const recorded = async (activityId: string) =>
    b.ctx.db.selectFrom('incoming_flattrs').select(['actor_iri', 'withdrawn_at']).where('activity_id', '=', activityId).execute();
  const like = (extra: Record<string, unknown> = {}) => ({
    '@context': AS,
    id: `${a.origin}/flattrs/${randomUUID()}`,
    type: 'Like',
    actor: annActor,
    object: postUri,
    context: `${a.origin}/periods/2026-11`,
    ...extra,
  });
  /** POSTs `activity` to B's inbox signed by the hostile server's key `keyId`; `tamper` edits the headers. */
  const deliver = async (activity: unknown, keyId: string, tamper: (h: Headers) => void = () => {}, spec?: 'rfc9421') => {
    const body = JSON.stringify(activity);
    const signed = await signRequest(
      new Request(`${b.origin}/inbox`, { method: 'POST', headers: { 'content-type': AP }, body }),
      evil.key,
      new URL(keyId),
      spec ? { spec } : {},
    );
    const headers = new Headers(signed.headers);
    tamper(headers);
    const answer = await fetch(`${b.origin}/inbox`, { method: 'POST', headers, body });
    return { status: answer.status, body: (await answer.json().catch(() => null)) as { error?: { code: string; message: string } } | null };
  };

  // ann's genuine Like of bob's post, delivered by A (its Undo is what the forgers try).
  const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: postUri } });
  t.equal(made.status, 201, made.text);
  const annLike = `${a.origin}/flattrs/${made.body.id}`;
  await eventually(async () => (await recorded(annLike)).length === 1, 20_000, "ann's Like arriving");
  const undoOfAnn = (extra: Record<string, unknown> = {}) => ({
    '@context': AS,
    id: `${annLike}#undo-${randomUUID()}`,
    type: 'Undo',
    actor: annActor,
    object: annLike,
    ...extra,
  });

  t.test('a Signature header with two keyId parameters', async (t) => {
    // First the victim's real key id (on her origin, listed by her actor), last the attacker's key
    // document that names her as owner, which is the one Fedify's parser verifies with.
    const twice = (h: Headers) => h.set('signature', `keyId="${annKey}",${h.get('signature')}`);
    for (const activity of [like(), undoOfAnn()]) {
      const answer = await deliver(activity, evil.claimingKey, twice);
      t.equal(answer.status, 401, `${activity.type} refused`);
      t.equal(answer.body?.error?.code, 'unauthorized');
      t.match(answer.body?.error?.message, /names a parameter twice \(Signature: keyId\)/);
    }
    // The same in RFC 9421's Signature-Input.
    const rfc = await deliver(
      like(),
      evil.claimingKey,
      (h) => h.set('signature-input', h.get('signature-input')!.replace(';keyid=', `;keyid="${annKey}";keyid=`)),
      'rfc9421',
    );
    t.equal(rfc.status, 401);
    t.match(rfc.body?.error?.message, /twice \(Signature-Input: keyid\)/);
  });

  t.test('a JSON-LD @context that redefines actor', async (t) => {
    // Raw `actor` is the attacker (whose key signs), `who` is as:actor: Fedify reads ann as the actor.
    const context = [AS, { actor: 'https://example.invalid/ns#x', who: { '@id': 'as:actor', '@type': '@id' } }];
    for (const activity of [
      like({ '@context': context, actor: evil.actor, who: annActor }),
      undoOfAnn({ '@context': context, actor: evil.actor, who: annActor }),
    ]) {
      const answer = await deliver(activity, evil.ownKey);
      t.equal(answer.status, 401, `${activity.type} refused`);
      t.equal(answer.body?.error?.code, 'unauthorized');
      t.match(answer.body?.error?.message, "the signing key is not on the actor's server");
      t.same(await recorded(activity.id), [], 'nothing recorded');
    }
  });

  t.test('a key document that only claims the actor as owner', async (t) => {
    for (const activity of [like(), undoOfAnn()]) {
      const answer = await deliver(activity, evil.claimingKey);
      t.equal(answer.status, 401, `${activity.type} refused`);
      t.match(answer.body?.error?.message, "the signing key is not on the actor's server");
    }
  });

  t.test("after the forgeries: ann's Like stands, nothing else from her was recorded", async (t) => {
    const rows = await b.ctx.db.selectFrom('incoming_flattrs').select(['activity_id', 'withdrawn_at']).where('actor_iri', '=', annActor).execute();
    t.same(rows, [{ activity_id: annLike, withdrawn_at: null }]);
  });

  t.test('a genuine Like from the hostile server, as itself, counts', async (t) => {
    const own = {
      '@context': AS,
      id: `${evil.origin}/likes/${randomUUID()}`,
      type: 'Like',
      actor: evil.actor,
      object: postUri,
      context: `${evil.origin}/periods/2026-11`,
    };
    const answer = await deliver(own, evil.ownKey);
    t.equal(answer.status, 202);
    const rows = await eventually(
      async () => {
        const found = await recorded(own.id);
        return found.length === 1 && found;
      },
      20_000,
      "the hostile server's own Like",
    );
    t.equal(rows[0]!.actor_iri, evil.actor);
  });

  t.test('the listeners check the keys themselves (a forgery past the door is dropped)', async (t) => {
    const queue = new KyselyMessageQueue(b.ctx.db);
    const queued = (activity: Record<string, unknown>, extra: Record<string, unknown>) =>
      queue.enqueue({
        type: 'inbox',
        id: randomUUID(),
        baseUrl: b.origin,
        activity,
        identifier: null,
        attempt: 0,
        started: new Date().toISOString(),
        traceContext: {},
        ...extra,
      });
    const key = (keyId: string) => ({ farthingHttpSignatureKey: keyId });
    const rsaSignature = (creator: string) => ({ type: 'RsaSignature2017', creator, created: new Date().toISOString(), signatureValue: 'AAAA' });
    const dropped = {
      'no record of the verifying key': [like(), {}],
      "the attacker's verifying key": [like(), key(evil.ownKey)],
      'a verifying key that claims the actor': [like(), key(evil.claimingKey)],
      'a Linked Data signature by a key that claims the actor': [
        like({ signature: rsaSignature(evil.claimingKey) }),
        { ...key(annKey), ldSignatureVerified: true },
      ],
      'a proof by a key on her server she does not list': [
        like({
          '@context': [AS, 'https://w3id.org/security/data-integrity/v1'],
          proof: {
            type: 'DataIntegrityProof',
            cryptosuite: 'eddsa-jcs-2022',
            verificationMethod: `${annActor}#forged-key`,
            proofPurpose: 'assertionMethod',
            proofValue: 'z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKiZUdcfvbrNDhkjb4',
            created: '2026-11-10T12:00:00Z',
          },
        }),
        key(annKey),
      ],
      "an Undo of her Like by the attacker's key": [undoOfAnn(), key(evil.ownKey)],
    } as const;
    for (const [activity, extra] of Object.values(dropped)) await queued(activity as Record<string, unknown>, extra);
    // Last, a control the listener does take: the recorded key is ann's own.
    const control = like();
    await queued(control, key(annKey));
    await eventually(async () => (await recorded(control.id)).length === 1, 20_000, 'the control Like');
    await eventually(async () => (await b.ctx.db.selectFrom('fedify_messages').select('id').execute()).length === 0, 20_000, 'the queue drained');
    for (const [what, [activity]] of Object.entries(dropped)) {
      if (activity.type === 'Like') t.same(await recorded(activity.id), [], `dropped: ${what}`);
    }
    t.same(
      (await recorded(annLike)).map((r) => r.withdrawn_at),
      [null],
      'the forged Undo withdrew nothing',
    );
  });
});
