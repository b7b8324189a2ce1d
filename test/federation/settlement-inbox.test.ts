/**
 * Issue 12, the settlement inbox's door (src/settlement/inbox-gate.ts): nothing of a body is read
 * until the headers' signature names a non-blocked instance actor and verifies; an unknown
 * instance may then send SMALL_BODY_BYTES, a known peer SETTLEMENT_BODY_LIMIT_BYTES. Unsigned,
 * forged and oversized posts are refused with the JSON error format, without waiting for their
 * bodies, and /healthz keeps answering while many of them are held open.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { exportJwk, importJwk, signRequest } from '@fedify/fedify';
import t from 'tap';
import { INSTANCE_ACTOR } from '../../src/activitypub/federation.ts';
import { SETTLEMENT_BODY_LIMIT_BYTES, SMALL_BODY_BYTES } from '../../src/settlement/inbox-gate.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { close, listen, startNetworked } from '../helpers/network.ts';

const MiB = 1024 * 1024;

interface Answer {
  status: number;
  error?: { code: string; message: string };
}

/**
 * POSTs with node:http: `chunks` chunks of `chunkSize` bytes, then ends the body, unless `hold`:
 * then after the first chunk it waits for the answer (which must come before the body does) and
 * leaves the request open, answering a function that drops it.
 */
function rawPost(url: string, headers: Record<string, string>, chunks: number, chunkSize: number, hold = false): Promise<Answer & { drop: () => void }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = httpRequest({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers });
    const drop = () => req.destroy();
    req.on('error', (error) => (hold ? undefined : reject(error)));
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        let error: Answer['error'];
        try {
          error = JSON.parse(Buffer.concat(parts).toString('utf8')).error;
        } catch {
          error = undefined;
        }
        resolve({ status: res.statusCode ?? 0, error, drop });
      });
    });
    const chunk = Buffer.alloc(chunkSize, 0x7b);
    let sent = 0;
    const write = () => {
      while (sent < chunks) {
        sent++;
        if (hold && sent > 1) return; // the rest never comes
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

await eachDatabase(t, async (t, kind) => {
  const a = await startNetworked(t, kind);
  const b = await startNetworked(t, kind);
  const inbox = `${b.origin}/settlement/inbox`;
  // Posts held open go to B's own port: the test front in between would keep its side of a
  // dropped one open, and B could not close.
  const directInbox = `http://127.0.0.1:${(b.app.server.address() as { port: number }).port}/settlement/inbox`;
  const [rsa] = await a.federation.createContext(new URL(a.origin), undefined).getActorKeyPairs(INSTANCE_ACTOR);

  // An instance B has never dealt with: a loopback server whose /actor lists its RSA key.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let strangerOrigin = '';
  const stranger = createServer((req, res) => {
    req.resume();
    if (req.url !== '/actor') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/activity+json' }).end(
      JSON.stringify({
        '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
        id: `${strangerOrigin}/actor`,
        type: 'Application',
        inbox: `${strangerOrigin}/inbox`,
        publicKey: {
          id: `${strangerOrigin}/actor#main-key`,
          owner: `${strangerOrigin}/actor`,
          publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
        },
      }),
    );
  });
  strangerOrigin = `http://127.0.0.1:${await listen(stranger)}`;
  t.teardown(() => close(stranger));
  const strangerKey = await importJwk(
    await exportJwk(
      await crypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, [
        'sign',
      ]),
    ),
    'private',
  );

  /** The headers of a POST of `body` signed by `key` (`keyId`). */
  const signedHeaders = async (body: string, key: CryptoKey, keyId: URL) => {
    const signed = await signRequest(new Request(inbox, { method: 'POST', headers: { 'content-type': 'application/json' }, body }), key, keyId);
    return Object.fromEntries(signed.headers);
  };
  const post = async (body: string, headers: Record<string, string>): Promise<Answer> => {
    const answer = await fetch(inbox, { method: 'POST', headers, body });
    return { status: answer.status, error: ((await answer.json().catch(() => ({}))) as { error?: Answer['error'] }).error };
  };
  const statementsAtB = async () => (await b.ctx.db.selectFrom('statements').select('id').execute()).length;

  t.test('unsigned posts: refused before their bodies are read', async (t) => {
    const small = await post('{"type":"FlattrStatement"}', { 'content-type': 'application/json' });
    t.same(small, { status: 401, error: { code: 'unauthorized', message: 'the request is not signed by an instance actor' } });
    const declaredHuge = await rawPost(directInbox, { 'content-type': 'application/json', 'content-length': String(60 * MiB) }, 60, MiB, true);
    declaredHuge.drop();
    t.equal(declaredHuge.status, 413, 'a declared 60 MiB body: 413 before any of it is read');
    t.equal(declaredHuge.error?.code, 'payload_too_large');
    const chunked = await rawPost(directInbox, { 'content-type': 'application/json' }, 60, MiB, true);
    chunked.drop();
    t.equal(chunked.status, 401, 'a chunked body of unknown size: 401 on its headers');
    t.equal(chunked.error?.code, 'unauthorized');
  });

  t.test('forged signatures', async (t) => {
    const body = JSON.stringify({ type: 'FlattrStatement', padding: 'x'.repeat(100) });
    const headers = await signedHeaders(body, rsa!.privateKey, rsa!.keyId);
    const twice = await post(body, { ...headers, signature: `keyId="${strangerOrigin}/actor#main-key",${headers.signature}` });
    t.equal(twice.status, 401);
    t.match(twice.error?.message, /names a parameter twice \(Signature: keyId\)/);
    const altered = await post(body.replace('xxx', 'yyy'), headers);
    t.same(altered, { status: 401, error: { code: 'unauthorized', message: 'the body does not match the signed Digest' } }, 'the same length, another body');
    // The stranger's key, claimed for A's instance actor by the keyId of A: it does not verify.
    const borrowed = await signedHeaders(body, strangerKey, rsa!.keyId);
    const wrongKey = await post(body, borrowed);
    t.equal(wrongKey.status, 401);
    t.match(wrongKey.error?.message, 'does not verify');
    t.equal(await statementsAtB(), 0, 'nothing stored');
  });

  t.test('an unknown instance may send a small message only', async (t) => {
    const big = JSON.stringify({ type: 'FlattrStatement', padding: 'x'.repeat(SMALL_BODY_BYTES) });
    const refused = await post(big, await signedHeaders(big, strangerKey, new URL(`${strangerOrigin}/actor#main-key`)));
    t.equal(refused.status, 413);
    t.equal(refused.error?.code, 'payload_too_large');
    t.match(refused.error?.message, 'until it is a known peer');
    const small = JSON.stringify({ type: 'Nonsense', issuer: `${strangerOrigin}/actor` });
    const through = await post(small, await signedHeaders(small, strangerKey, new URL(`${strangerOrigin}/actor#main-key`)));
    t.equal(through.status, 400, 'a small one passes the door (and is judged on what it says)');
    t.match(through.error?.message, 'unknown settlement message type');
  });

  t.test('a known peer may send a large statement, up to the limit', async (t) => {
    const big = JSON.stringify({ type: 'Nonsense', issuer: `${a.origin}/actor`, padding: 'x'.repeat(SMALL_BODY_BYTES) });
    const before = await post(big, await signedHeaders(big, rsa!.privateKey, rsa!.keyId));
    t.equal(before.status, 413, 'A is not known to B yet');
    t.equal((await b.api('PUT', '/api/v1/admin/peers', { token: b.adminToken, body: { peer: a.origin, blocked: false } })).status, 200);
    const known = await post(big, await signedHeaders(big, rsa!.privateKey, rsa!.keyId));
    t.equal(known.status, 400, 'read whole and judged on what it says');
    t.match(known.error?.message, 'unknown settlement message type');
    // Past the limit, streamed without a length under a valid signature (of another body).
    const headers = await signedHeaders('{}', rsa!.privateKey, rsa!.keyId);
    delete headers['content-length'];
    const over = await rawPost(inbox, headers, SETTLEMENT_BODY_LIMIT_BYTES / MiB + 1, MiB);
    t.equal(over.status, 413);
    t.equal(over.error?.code, 'payload_too_large');
  });

  t.test('a blocked peer is refused on its headers', async (t) => {
    t.equal((await b.api('PUT', '/api/v1/admin/peers', { token: b.adminToken, body: { peer: a.origin, blocked: true } })).status, 200);
    const body = JSON.stringify({ type: 'Nonsense', issuer: `${a.origin}/actor` });
    const refused = await post(body, await signedHeaders(body, rsa!.privateKey, rsa!.keyId));
    t.equal(refused.status, 403);
    t.equal(refused.error?.code, 'peer_blocked');
    await b.api('PUT', '/api/v1/admin/peers', { token: b.adminToken, body: { peer: a.origin, blocked: false } });
  });

  t.test('/healthz answers while many oversized unsigned posts are held open', async (t) => {
    const held = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        rawPost(directInbox, { 'content-type': 'application/json', ...(i % 2 ? { 'content-length': String(60 * MiB) } : {}) }, 60, MiB, true),
      ),
    );
    const health = await fetch(`${b.origin}/healthz`);
    t.equal(health.status, 200);
    t.same(await health.json(), { status: 'ok' });
    for (const answer of held) answer.drop();
    t.same([...new Set(held.map((h) => `${h.status} ${h.error?.code}`))].sort(), ['401 unauthorized', '413 payload_too_large']);
  });
});
