/**
 * Inbox: signed Likes posted to one instance's shared inbox, from 50 sender actors on another
 * "instance" (a small HTTP server serving their actor documents and keys), 32 at a time. Each
 * Like is a new activity on one of our things, so each is verified, guarded and recorded.
 *
 * Baseline, measured in the same run: a bare Fedify inbox (in-memory KvStore, no queue, a Like
 * listener that does nothing) served by node:http, receiving the same Likes signed the same way.
 * Both verify every signature (keys cached after the first fetch). Target: at least half the
 * bare rate. Our figure counts Likes answered 202; it then waits until all are recorded.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createFederation, exportJwk, generateCryptoKeyPair, MemoryKvStore, signRequest } from '@fedify/fedify';
import { CryptographicKey, Like, Person } from '@fedify/vocab';
import pino from 'pino';
import { testConfig } from '../src/config.ts';
import { ManualClock } from '../src/core/clock.ts';
import { openDatabase } from '../src/db/database.ts';
import { createInstance } from '../src/instance.ts';
import { registerMember } from '../src/members/service.ts';
import { registerThing } from '../src/things/service.ts';
import { createPostgresDatabase } from '../test/helpers/databases.ts';
import { verdict } from './util.ts';

const LIKES = Number(process.env.BENCH_INBOX_LIKES ?? 2_000);
const SENDERS = 50;
const CONCURRENCY = 32;

interface Sender {
  id: URL;
  keyId: URL;
  privateKey: CryptoKey;
  publicJwk: JsonWebKey;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** The senders' instance: actor documents (with their RSA keys) and NodeInfo. */
async function senderInstance(): Promise<{ origin: string; senders: Sender[]; close(): void }> {
  const senders: Sender[] = [];
  const server = createServer(async (req, res) => {
    const match = /^\/users\/s(\d+)$/.exec(req.url ?? '');
    const sender = match ? senders[Number(match[1])] : undefined;
    if (!sender) return res.writeHead(404).end();
    const person = new Person({
      id: sender.id,
      preferredUsername: `s${match![1]}`,
      inbox: new URL(`${sender.id.href}/inbox`),
      publicKey: new CryptographicKey({
        id: sender.keyId,
        owner: sender.id,
        publicKey: await crypto.subtle.importKey('jwk', sender.publicJwk, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['verify']),
      }),
    });
    res.writeHead(200, { 'content-type': 'application/activity+json' }).end(JSON.stringify(await person.toJsonLd()));
  });
  const origin = await listen(server);
  for (let i = 0; i < SENDERS; i++) {
    const pair = await generateCryptoKeyPair('RSASSA-PKCS1-v1_5');
    const id = new URL(`${origin}/users/s${i}`);
    senders.push({ id, keyId: new URL(`${id.href}#main-key`), privateKey: pair.privateKey, publicJwk: await exportJwk(pair.publicKey) });
  }
  return { origin, senders, close: () => server.close() };
}

/** LIKES signed requests to `inbox`, Likes of `object`, made before the clock starts. */
async function signedLikes(inbox: string, object: string, senders: Sender[], senderOrigin: string): Promise<Request[]> {
  const requests: Request[] = [];
  for (let i = 0; i < LIKES; i++) {
    const sender = senders[i % senders.length] as Sender;
    const like = new Like({
      id: new URL(`${senderOrigin}/flattrs/${randomUUID()}`),
      actor: sender.id,
      object: new URL(object),
      contexts: [new URL(`${senderOrigin}/periods/2026-11`)],
    });
    const body = JSON.stringify(await like.toJsonLd());
    requests.push(
      await signRequest(
        new Request(inbox, { method: 'POST', headers: { 'content-type': 'application/activity+json' }, body }),
        sender.privateKey,
        sender.keyId,
      ),
    );
  }
  return requests;
}

/** Posts every request, CONCURRENCY at a time; answers requests per second and the statuses seen. */
async function post(requests: Request[]): Promise<{ rate: number; statuses: Map<number, number> }> {
  const statuses = new Map<number, number>();
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const request = requests[next++] as Request;
        const response = await fetch(request);
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    }),
  );
  return { rate: requests.length / ((performance.now() - start) / 1000), statuses };
}

/** The baseline: Fedify alone, in memory, with one actor and a Like listener doing nothing. */
async function bareFedify(): Promise<{ origin: string; close(): void }> {
  let origin = '';
  const federation = createFederation<void>({ kv: new MemoryKvStore(), allowPrivateAddress: true });
  federation.setActorDispatcher(
    '/users/{identifier}',
    (ctx, identifier) => new Person({ id: ctx.getActorUri(identifier), inbox: ctx.getInboxUri(identifier) }),
  );
  federation.setInboxListeners('/users/{identifier}/inbox', '/inbox').on(Like, () => {});
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const request = new Request(`${origin}${req.url}`, { method: req.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
    const response = await federation.fetch(request, { contextData: undefined });
    res.writeHead(response.status, Object.fromEntries(response.headers)).end(Buffer.from(await response.arrayBuffer()));
  });
  origin = await listen(server);
  return { origin, close: () => server.close() };
}

export async function benchInbox(): Promise<void> {
  const remote = await senderInstance();
  const created = await createPostgresDatabase();
  const database = await openDatabase({ url: created.url, poolSize: 10 });
  const bare = await bareFedify();
  try {
    // Ours: a whole instance on PostgreSQL, its queue worked in this process.
    const portServer = createServer();
    const origin = await listen(portServer);
    const port = Number(new URL(origin).port);
    portServer.close();
    const config = testConfig({ FARTHING_ORIGIN: origin, FARTHING_ALLOW_PRIVATE_ADDRESS: '1', LOG_LEVEL: 'warn' });
    const instance = await createInstance(config, { clock: new ManualClock('2026-11-10T12:00:00Z'), database, log: pino({ level: 'warn' }) });
    await instance.app.listen({ host: '127.0.0.1', port });
    const owner = await registerMember(instance.ctx, { username: 'bob', password: 'bob-password' }, { bypassRegistration: true });
    const thing = await registerThing(instance.ctx, { id: owner.id, username: 'bob', role: 'member', scopes: ['things'] }, { url: 'https://bob.example/post' });

    const warmBare = await signedLikes(`${bare.origin}/inbox`, `${bare.origin}/things/x`, remote.senders, remote.origin);
    const warmOurs = await signedLikes(`${origin}/inbox`, thing.uri, remote.senders, remote.origin);
    // Warm-up: every sender's key fetched and cached on both sides.
    await post(warmBare.slice(0, SENDERS * 2));
    await post(warmOurs.slice(0, SENDERS * 2));

    const bareLikes = await signedLikes(`${bare.origin}/inbox`, `${bare.origin}/things/x`, remote.senders, remote.origin);
    const ourLikes = await signedLikes(`${origin}/inbox`, thing.uri, remote.senders, remote.origin);
    const baseline = await post(bareLikes);
    const started = performance.now();
    const ours = await post(ourLikes);
    const expected = SENDERS * 2 + LIKES;
    for (;;) {
      const { n } = await instance.ctx.db
        .selectFrom('incoming_flattrs')
        .select((eb) => eb.fn.countAll<bigint>().as('n'))
        .executeTakeFirstOrThrow();
      if (Number(n) >= expected) break;
      if (performance.now() - started > 300_000) throw new Error(`only ${n} of ${expected} Likes recorded after 5 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const recorded = LIKES / ((performance.now() - started) / 1000);
    const ratio = ours.rate / baseline.rate;
    console.log(`${LIKES.toLocaleString('en')} signed Likes from ${SENDERS} actors, ${CONCURRENCY} at a time`);
    console.log(`bare Fedify inbox (memory):  ${baseline.rate.toFixed(0)} activities/s ${JSON.stringify(Object.fromEntries(baseline.statuses))}`);
    console.log(`Farthing inbox (PostgreSQL): ${ours.rate.toFixed(0)} verified activities/s ${JSON.stringify(Object.fromEntries(ours.statuses))}`);
    console.log(`  all recorded as incoming flattrs at ${recorded.toFixed(0)}/s (through the queue)`);
    console.log(`ratio to bare: ${ratio.toFixed(2)}x (${verdict(ratio >= 0.5)}: at least 0.5x)`);
    await instance.close();
  } finally {
    bare.close();
    remote.close();
    await database.close();
    await created.drop();
  }
}
