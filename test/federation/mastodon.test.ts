/**
 * Flattring a plain Mastodon user's post. The "Mastodon" here is a small HTTP server serving the
 * documents Mastodon serves (an actor with its RSA key, a Note, NodeInfo saying "mastodon") and
 * checking each delivery to its inbox as Mastodon does: a draft-cavage Signature covering
 * (request-target), host, date and digest; the Digest equal to the body's SHA-256; a recent Date;
 * the key fetched from its keyId and owned by the activity's actor, who lists it. RFC 9421
 * signatures it does not know are answered 401, so Fedify falls back as it would with Mastodon.
 *
 * Then the close: nobody claims the account, so its shares wait as unclaimed for six closes and
 * then go to the charity.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import t, { type Test } from 'tap';
import { addMonths } from '../../src/core/period.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { close, eventually, listen, readAll, startNetworked } from '../helpers/network.ts';

const AP = 'application/activity+json';

interface Delivery {
  verified: boolean;
  reason?: string;
  activity: any;
}

async function mastodon(t: Test) {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const deliveries: Delivery[] = [];
  let origin = '';
  const server = createServer(async (req, res) => {
    const body = await readAll(req);
    const path = req.url ?? '/';
    const json = (status: number, doc: unknown, type = AP) => res.writeHead(status, { 'content-type': type }).end(JSON.stringify(doc));
    if (req.method === 'GET' && path === '/users/alice') {
      return json(200, {
        '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
        id: `${origin}/users/alice`,
        type: 'Person',
        preferredUsername: 'alice',
        inbox: `${origin}/users/alice/inbox`,
        outbox: `${origin}/users/alice/outbox`,
        followers: `${origin}/users/alice/followers`,
        endpoints: { sharedInbox: `${origin}/inbox` },
        publicKey: { id: `${origin}/users/alice#main-key`, owner: `${origin}/users/alice`, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) },
      });
    }
    if (req.method === 'GET' && path === '/users/alice/statuses/1') {
      return json(200, {
        '@context': 'https://www.w3.org/ns/activitystreams',
        id: `${origin}/users/alice/statuses/1`,
        type: 'Note',
        attributedTo: `${origin}/users/alice`,
        url: `${origin}/@alice/1`,
        content: '<p>A toot worth a flattr</p>',
        to: ['https://www.w3.org/ns/activitystreams#Public'],
      });
    }
    if (req.method === 'GET' && path === '/.well-known/nodeinfo') {
      return json(200, { links: [{ rel: 'http://nodeinfo.diaspora.software/ns/schema/2.0', href: `${origin}/nodeinfo/2.0` }] }, 'application/json');
    }
    if (req.method === 'GET' && path === '/nodeinfo/2.0') {
      return json(200, {
        version: '2.0',
        software: { name: 'mastodon', version: '4.3.0' },
        protocols: ['activitypub'],
        services: { outbound: [], inbound: [] },
        usage: { users: {}, localPosts: 1 },
        openRegistrations: false,
        metadata: {},
      }, 'application/json');
    }
    if (req.method === 'POST' && (path === '/users/alice/inbox' || path === '/inbox')) {
      // RFC 9421 (Signature-Input) is not what this Mastodon knows: 401, and the sender falls back.
      if (req.headers['signature-input']) return res.writeHead(401).end('Unknown signature scheme');
      const result = await verifyAsMastodon(req, path, body);
      let activity: unknown = null;
      try {
        activity = JSON.parse(body.toString('utf8'));
      } catch {
        // recorded as unparsable
      }
      if (!req.headers.signature) return res.writeHead(401).end('Request not signed');
      deliveries.push({ ...result, activity });
      return res.writeHead(result.verified ? 202 : 401).end();
    }
    res.writeHead(404).end();
  });
  const port = await listen(server);
  origin = `http://127.0.0.1:${port}`;
  t.teardown(() => close(server));
  return { origin, deliveries };
}

/** What Mastodon's SignatureVerification concern checks, written from its documented behaviour. */
async function verifyAsMastodon(req: IncomingMessage, path: string, body: Buffer): Promise<{ verified: boolean; reason?: string }> {
  const header = req.headers.signature;
  if (typeof header !== 'string') return { verified: false, reason: 'no Signature header' };
  const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const headers: string[] = (params.headers ?? 'date').split(' ');
  for (const required of ['(request-target)', 'host', 'date', 'digest']) {
    if (!headers.includes(required)) return { verified: false, reason: `signature does not cover ${required}` };
  }
  if (params.algorithm && !['rsa-sha256', 'hs2019'].includes(params.algorithm)) return { verified: false, reason: `algorithm ${params.algorithm}` };
  const digest = `SHA-256=${createHash('sha256').update(body).digest('base64')}`;
  if (req.headers.digest !== digest) return { verified: false, reason: 'digest does not match the body' };
  const date = Date.parse(String(req.headers.date));
  if (!Number.isFinite(date) || Math.abs(Date.now() - date) > 60 * 60 * 1000) return { verified: false, reason: 'date out of range' };
  const signingString = headers
    .map((name) => (name === '(request-target)' ? `(request-target): ${req.method!.toLowerCase()} ${path}` : `${name}: ${req.headers[name]}`))
    .join('\n');
  const keyResponse = await fetch(params.keyId!, { headers: { accept: AP } });
  const keyDoc = (await keyResponse.json()) as any;
  const key = keyDoc.publicKey?.id === params.keyId ? keyDoc.publicKey : keyDoc.id === params.keyId ? keyDoc : null;
  if (!key) return { verified: false, reason: 'the actor does not list the key' };
  const actor = JSON.parse(body.toString('utf8')).actor;
  if (key.owner !== actor || keyDoc.id !== actor) return { verified: false, reason: 'the key is not the actor\'s' };
  const ok = verify('sha256', Buffer.from(signingString), createPublicKey(key.publicKeyPem), Buffer.from(params.signature!, 'base64'));
  return ok ? { verified: true } : { verified: false, reason: 'bad signature' };
}

await eachDatabase(t, async (t, kind) => {
  const masto = await mastodon(t);
  const a = await startNetworked(t, kind);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const note = `${masto.origin}/users/alice/statuses/1`;

  t.test('the Like a Mastodon server receives verifies as Mastodon verifies it', async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: note } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.owner.actor, `${masto.origin}/users/alice`, 'the owner is the Note\'s attributedTo');
    t.equal(made.body.thing.owner.handle, '@alice@127.0.0.1:' + new URL(masto.origin).port);
    t.equal(made.body.thing.uri, note);
    t.equal(made.body.thing.title, 'A toot worth a flattr');
    const delivery = await eventually(async () => masto.deliveries[0], 20_000, 'the delivery');
    t.same({ verified: delivery.verified, reason: delivery.reason }, { verified: true, reason: undefined }, 'Mastodon accepts the signature');
    const like = delivery.activity;
    t.equal(like.type, 'Like');
    t.equal(like.id, `${a.origin}/flattrs/${made.body.id}`, 'its id is the flattr\'s URL');
    t.equal(like.actor, `${a.origin}/users/ann`);
    t.equal(like.object, note);
    t.equal(like.context, `${a.origin}/periods/2026-11`, 'its context names the period');
    for (const field of ['content', 'name', 'tag', 'contentMap', 'nameMap']) t.notOk(field in like, `no ${field}`);
  });

  t.test('nobody claims the account: its shares are unclaimed for six closes, then the charity\'s', async (t) => {
    const actor = await a.ctx.db.selectFrom('remote_actors').select(['software']).executeTakeFirstOrThrow();
    t.equal(actor.software, 'mastodon');
    a.clock.set('2026-12-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-11/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    t.equal(closed.body.summary.unclaimed, '4.50');
    t.equal(closed.body.summary.owed_to_peers, '0.00');
    t.equal(closed.body.summary.fees, '0.50');
    const balance = async (code: string) =>
      (await a.ctx.db.selectFrom('accounts').innerJoin('account_balances', 'account_id', 'accounts.id').select('balance').where('code', '=', code).executeTakeFirst())?.balance ?? 0n;
    t.equal(await balance('unclaimed'), 4_500_000n);
    // ann keeps no budget going (charity takes idle budgets); the unclaimed shares just wait.
    let period = '2026-11';
    for (let i = 1; i <= 6; i++) {
      period = addMonths(period as never, 1);
      a.clock.set(`${addMonths(period as never, 1)}-01T00:30:00Z`);
      const next = await a.api('POST', `/api/v1/admin/periods/${period}/close`, { token: a.adminToken });
      t.equal(next.status, 200, next.text);
      if (i < 6) t.equal(await balance('unclaimed'), 4_500_000n, `still waiting after ${i} more closes`);
    }
    t.equal(await balance('unclaimed'), 0n, 'after six closes it is gone from unclaimed');
    const expired = await a.ctx.db.selectFrom('transfers').select(['amount']).where('kind', '=', 'unclaimed_expire').execute();
    t.same(expired.map((r) => r.amount), [4_500_000n], 'to the charity');
    const rows = await a.ctx.db.selectFrom('unclaimed').select(['state', 'settled_period']).execute();
    t.same(rows, [{ state: 'expired', settled_period: period }]);
  });
});
