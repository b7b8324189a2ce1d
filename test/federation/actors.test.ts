/**
 * Members are Person actors and the instance an Application actor, served by Fedify inside
 * fastify: WebFinger, the actor documents with their keys, NodeInfo, the fall-through to fastify,
 * and, over real HTTP, a Fedify client that finds our actors and a signed delivery to our inboxes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { exportJwk, getDocumentLoader, signRequest, verifyRequest } from '@fedify/fedify';
import { Application, Like, lookupObject, Person } from '@fedify/vocab';
import { lookupWebFinger } from '@fedify/webfinger';
import t from 'tap';
import packageJson from '../../package.json' with { type: 'json' };
import { INSTANCE_ACTOR } from '../../src/activitypub/federation.ts';
import { actorKeyPairs } from '../../src/activitypub/keys.ts';
import { createInstance } from '../../src/instance.ts';
import { actorIri, findMember } from '../../src/members/service.ts';
import { defaultDatabaseKind, eachDatabase } from '../helpers/databases.ts';
import { startInstance, type TestInstance, thing } from '../helpers/instance.ts';
import { startNetworked } from '../helpers/network.ts';

const ORIGIN = 'https://a.example';
const AP = 'application/activity+json';

const getAp = (inst: TestInstance, url: string) => inst.api('GET', url, { headers: { accept: AP } });
const multikeys = (actor: { assertionMethod?: unknown }) =>
  [actor.assertionMethod ?? []].flat() as { id: string; type: string; controller: string; publicKeyMultibase: string }[];

t.test('members and the instance are ActivityPub actors', async (t) => {
  await eachDatabase(t, async (t, kind) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_ORIGIN: ORIGIN } });
    await inst.member('ann');

    t.test('WebFinger finds a member by acct:, in any case, and nobody else', async (t) => {
      const finger = await inst.api('GET', '/.well-known/webfinger?resource=acct:ann@a.example');
      t.equal(finger.status, 200);
      t.match(finger.headers['content-type'], /^application\/jrd\+json/);
      t.equal(finger.body.subject, 'acct:ann@a.example');
      t.same(
        finger.body.links.filter((l: { rel: string }) => l.rel === 'self'),
        [{ rel: 'self', type: AP, href: `${ORIGIN}/users/ann` }],
      );
      const upper = await inst.api('GET', '/.well-known/webfinger?resource=acct:ANN@a.example');
      t.equal(upper.body.links.find((l: { rel: string }) => l.rel === 'self').href, `${ORIGIN}/users/ann`, 'the actor keeps its registered name');
      t.equal((await inst.api('GET', '/.well-known/webfinger?resource=acct:nobody@a.example')).status, 404);
      t.equal((await inst.api('GET', '/.well-known/webfinger?resource=acct:ann@b.example')).status, 404, 'another host');
    });

    t.test('the Person document', async (t) => {
      const person = await getAp(inst, '/users/ann');
      t.equal(person.status, 200);
      t.match(person.headers['content-type'], /^application\/activity\+json/);
      const actor = person.body;
      t.equal(actor.type, 'Person');
      t.equal(actor.id, `${ORIGIN}/users/ann`);
      t.equal(actor.id, actorIri(inst.ctx, 'ann'), 'the id the JSON API hands out');
      t.equal(actor.preferredUsername, 'ann');
      t.equal(actor.inbox, `${ORIGIN}/users/ann/inbox`);
      t.equal(actor.endpoints.sharedInbox, `${ORIGIN}/inbox`);
      t.equal(actor.manuallyApprovesFollowers, false);
      t.equal(actor.publicKey.id, `${actor.id}#main-key`);
      t.equal(actor.publicKey.owner, actor.id);
      t.match(actor.publicKey.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
      const [proofKey, ...others] = multikeys(actor);
      t.same(others, [], 'one assertion method');
      t.equal(proofKey?.type, 'Multikey');
      t.equal(proofKey?.controller, actor.id);
      t.match(proofKey?.publicKeyMultibase, /^z6Mk/, 'an Ed25519 public key (multicodec 0xed01)');

      for (const collection of [actor.outbox, actor.followers, actor.following]) {
        const fetched = await getAp(inst, new URL(collection).pathname);
        t.equal(fetched.status, 200, collection);
        t.equal(fetched.body.totalItems, 0, collection);
      }
      t.equal((await getAp(inst, '/users/nobody')).status, 404);
      t.equal((await getAp(inst, '/users/nobody/followers')).status, 404);
      t.equal((await getAp(inst, '/users/ANN')).status, 404, 'an actor is served at its own URL only');
    });

    t.test('the instance actor at /actor', async (t) => {
      const response = await getAp(inst, '/actor');
      t.equal(response.status, 200);
      const actor = response.body;
      t.equal(actor.type, 'Application');
      t.equal(actor.id, `${ORIGIN}/actor`);
      t.equal(actor.preferredUsername, 'a.example');
      t.equal(actor.endpoints.sharedInbox, `${ORIGIN}/inbox`);
      t.equal(actor.publicKey.owner, actor.id);
      t.match(actor.publicKey.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
      t.equal(multikeys(actor)[0]?.controller, actor.id, 'its Ed25519 key, for settlement statements');
      t.match(multikeys(actor)[0]?.publicKeyMultibase, /^z6Mk/);
      t.not(actor.publicKey.publicKeyPem, (await getAp(inst, '/users/ann')).body.publicKey.publicKeyPem, 'keys of its own');

      for (const resource of ['acct:a.example@a.example', `${ORIGIN}/actor`]) {
        const finger = await inst.api('GET', `/.well-known/webfinger?resource=${encodeURIComponent(resource)}`);
        t.equal(finger.status, 200, resource);
        t.equal(finger.body.links.find((l: { rel: string }) => l.rel === 'self')?.href, `${ORIGIN}/actor`, resource);
      }
      t.equal((await getAp(inst, `/users/${INSTANCE_ACTOR}`)).status, 404, 'not under /users');
    });

    t.test('Fedify signs as either actor, and the served keys verify it', async (t) => {
      const fctx = inst.federation.createContext(new URL(ORIGIN), undefined);
      // A remote server would fetch the key over HTTP; here the loader asks the app directly.
      const documentLoader = async (url: string) => ({ contextUrl: null, documentUrl: url, document: (await getAp(inst, new URL(url).pathname)).body });
      for (const identifier of ['ann', INSTANCE_ACTOR]) {
        const pairs = await fctx.getActorKeyPairs(identifier);
        t.same(
          pairs.map((p) => p.privateKey.algorithm.name),
          ['RSASSA-PKCS1-v1_5', 'Ed25519'],
          identifier,
        );
        const [rsa] = pairs;
        t.equal(rsa!.keyId.href, `${fctx.getActorUri(identifier).href}#main-key`);
        const request = await signRequest(new Request(`${ORIGIN}/inbox`, { method: 'POST', body: '{}' }), rsa!.privateKey, rsa!.keyId);
        const key = await verifyRequest(request, { documentLoader });
        t.equal(key?.ownerId?.href, fctx.getActorUri(identifier).href, `a signature by ${identifier} verifies`);
      }
    });

    t.test('keys are made once: stable across requests, restarts and concurrent first uses', async (t) => {
      const keysOf = async (get: (url: string) => Promise<{ body: any }>, url: string) => {
        const { body } = await get(url);
        return [body.publicKey.publicKeyPem, multikeys(body)[0]?.publicKeyMultibase];
      };
      const first = await keysOf((url) => getAp(inst, url), '/users/ann');
      const instanceFirst = await keysOf((url) => getAp(inst, url), '/actor');
      t.same(await keysOf((url) => getAp(inst, url), '/users/ann'), first);

      const restarted = await createInstance(inst.ctx.config, { clock: inst.clock, database: inst.database });
      t.teardown(() => restarted.close());
      const getRestarted = async (url: string) => {
        const response = await restarted.app.inject({ method: 'GET', url, headers: { accept: AP } });
        return { body: JSON.parse(response.body) };
      };
      t.same(await keysOf(getRestarted, '/users/ann'), first, 'a member keeps its keys after a restart');
      t.same(await keysOf(getRestarted, '/actor'), instanceFirst, 'so does the instance');

      await inst.member('bob');
      const bob = (await findMember(inst.ctx, 'bob'))!;
      const concurrent = await Promise.all([1, 2, 3].map(() => actorKeyPairs(inst.ctx, bob.id)));
      const publicJwks = await Promise.all(concurrent.map(async (pairs) => JSON.stringify(await Promise.all(pairs.map((p) => exportJwk(p.publicKey))))));
      t.equal(new Set(publicJwks).size, 1, 'three first uses at once agree on one key pair of each kind');
      const rows = await inst.ctx.db.selectFrom('actor_keys').select(['member_id', 'kind']).orderBy('member_id').orderBy('kind').execute();
      const annId = (await findMember(inst.ctx, 'ann'))!.id;
      t.same(rows, [
        { member_id: annId, kind: 'ed25519' },
        { member_id: annId, kind: 'rsa' },
        { member_id: bob.id, kind: 'ed25519' },
        { member_id: bob.id, kind: 'rsa' },
        { member_id: null, kind: 'ed25519' },
        { member_id: null, kind: 'rsa' },
      ]);
    });

    t.test('NodeInfo 2.1', async (t) => {
      await thing(inst, await inst.member('cat'), 'https://cat.example/post/1');
      const discovery = await inst.api('GET', '/.well-known/nodeinfo');
      t.equal(discovery.status, 200);
      const link = discovery.body.links.find((l: { rel: string }) => l.rel === 'http://nodeinfo.diaspora.software/ns/schema/2.1');
      t.equal(link?.href, `${ORIGIN}/nodeinfo/2.1`);
      const info = await inst.api('GET', new URL(link.href).pathname);
      t.equal(info.status, 200);
      t.equal(info.body.version, '2.1');
      t.same(info.body.software, { name: 'farthing', version: packageJson.version });
      t.same(info.body.protocols, ['activitypub']);
      const members = await inst.ctx.db.selectFrom('members').select('id').execute();
      t.equal(info.body.usage.users.total, members.length);
      t.equal(info.body.usage.localPosts, 1, 'things count as posts');
      t.equal(info.body.openRegistrations, true);
    });

    t.test('what Fedify does not serve is fastify’s; the JSON API never reaches Fedify', async (t) => {
      const html = await inst.api('GET', '/users/ann', { headers: { accept: 'text/html' } });
      t.equal(html.status, 200, 'the profile page (test/citizens/profile.test.ts)');
      t.match(html.headers['content-type'], /^text\/html/);
      t.equal(html.body, undefined, 'not the Person');
      t.equal((await inst.api('GET', '/users/ann', { headers: { accept: 'image/png' } })).status, 406);

      // An inbox verifies signatures: an unsigned activity is refused.
      const unsigned = await inst.api('POST', '/users/ann/inbox', {
        headers: { 'content-type': AP },
        body: {
          '@context': 'https://www.w3.org/ns/activitystreams',
          type: 'Like',
          id: 'https://b.example/likes/1',
          actor: 'https://b.example/users/bo',
          object: `${ORIGIN}/users/ann`,
        },
      });
      t.equal(unsigned.status, 401);

      const token = await inst.member('dan');
      const me = await inst.api('GET', '/api/v1/me', { token });
      t.equal(me.status, 200);
      t.equal(me.body.username, 'dan');
      t.equal((await inst.api('GET', '/healthz')).status, 200);
      t.equal((await inst.api('GET', '/api/v1/nothing-here')).status, 404);
    });
  });
});

t.test('a remote Fedify server finds our actors and our inboxes verify their signatures (real HTTP)', async (t) => {
  const inst = await startNetworked(t, defaultDatabaseKind());
  const origin = inst.origin;
  await inst.member('ann');
  const documentLoader = getDocumentLoader({ allowPrivateAddress: true });

  const jrd = await lookupWebFinger(`${origin}/users/ann`, { allowPrivateAddress: true });
  t.ok(jrd?.aliases?.includes(`acct:ann@${new URL(origin).host}`), 'WebFinger names the acct: handle');
  const person = await lookupObject(`${origin}/users/ann`, { documentLoader });
  t.ok(person instanceof Person, 'the Person');
  t.equal(person?.id?.href, `${origin}/users/ann`);
  const key = await (person as Person).getPublicKey({ documentLoader });
  t.equal(key?.ownerId?.href, person?.id?.href, 'its key, owned by it');
  const instanceActor = await lookupObject(`${origin}/actor`, { documentLoader });
  t.ok(instanceActor instanceof Application, 'the instance actor');

  // Fedify signs each delivery; our inbox fetches the sender's key over HTTP and verifies it
  // (an unsigned delivery is a 401, which makes an immediate send throw).
  const fctx = inst.federation.createContext(new URL(origin), undefined);
  const like = (from: string, object: URL) => new Like({ id: new URL(`${origin}/test/likes/${from}`), actor: fctx.getActorUri(from), object });
  await t.resolves(
    fctx.sendActivity({ identifier: INSTANCE_ACTOR }, person as Person, like(INSTANCE_ACTOR, person!.id!), { immediate: true }),
    'the instance actor delivers to a member’s inbox',
  );
  await t.resolves(
    fctx.sendActivity({ identifier: 'ann' }, instanceActor as Application, like('ann', instanceActor!.id!), { immediate: true }),
    'a member delivers to the instance actor’s inbox',
  );
});

t.test('acct: handles resolve the way a remote Fedify server resolves them (HTTPS)', { skip: opensslMissing() }, async (t) => {
  // Fedify's WebFinger client always asks https://<host> for an acct: handle, so this instance
  // is served over TLS with a certificate this process trusts for the duration of the test.
  const dir = t.testdir();
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  const trusted = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...trusted, cert]);
  t.teardown(() => tls.setDefaultCACertificates(trusted));

  // The server listens first (its port names the origin), and routes to the app once it is ready.
  let inst: TestInstance | undefined;
  const server = createHttpsServer({ key: readFileSync(path.join(dir, 'key.pem')), cert }, (req, res) =>
    inst ? inst.app.routing(req, res) : res.writeHead(503).end(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const port = (server.address() as { port: number }).port;
  const started = await startInstance(t, defaultDatabaseKind(), { env: { FARTHING_ORIGIN: `https://127.0.0.1:${port}`, FARTHING_ALLOW_PRIVATE_ADDRESS: '1' } });
  await started.member('ann');
  await started.app.ready();
  inst = started;

  const documentLoader = getDocumentLoader({ allowPrivateAddress: true });
  // lookupObject reads allowPrivateAddress for its WebFinger step, though its type does not list it.
  const options = { documentLoader, allowPrivateAddress: true } as Parameters<typeof lookupObject>[1];
  const person = await lookupObject(`acct:ann@127.0.0.1:${port}`, options);
  t.ok(person instanceof Person, 'acct:ann@host is the Person');
  t.equal(person?.id?.href, `https://127.0.0.1:${port}/users/ann`);
  t.equal((await (person as Person).getPublicKey({ documentLoader }))?.ownerId?.href, person?.id?.href, 'with its key');
  const instanceActor = await lookupObject(`acct:127.0.0.1:${port}@127.0.0.1:${port}`, options);
  t.ok(instanceActor instanceof Application, 'acct:host@host is the instance actor');
  t.equal(instanceActor?.id?.href, `https://127.0.0.1:${port}/actor`);
});

function opensslMissing(): string | false {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'openssl is not installed (needed for a test certificate)';
  }
}
