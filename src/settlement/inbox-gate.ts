/**
 * The door of POST /settlement/inbox (issue 12): nothing of a body is read before its sender is
 * known. From the headers alone, the draft-cavage `Signature` (each parameter once) must name a
 * key of the instance actor (`{origin}/actor`) of an origin that is not blocked, cover
 * (request-target), host, date and digest, and verify over them; only then is the body read,
 * hashed as it streams, and bounded: SMALL_BODY_BYTES for an origin we have never dealt with,
 * SETTLEMENT_BODY_LIMIT_BYTES for a known peer (trusted or pending: a peers row that is not
 * blocked, a statement, a peer account or an incoming flattr). The body must match the signed
 * Digest. Memory per request is thus bounded by who sent it, and an unsigned or forged post
 * costs no more than its headers.
 *
 * Written by hand: Fedify's verifyRequest reads the whole body before it checks anything (the
 * Digest first), which is what made this inbox a memory sink. The signature check below is the
 * draft-cavage one Fedify makes (same signing string, same key fetch), on the headers only; the
 * route still runs Fedify's full verifyRequest (channel.ts verifySender) on the body once read.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { repeatedSignatureParameter } from '../net/signature-params.ts';
import { instanceActorIri } from './channel.ts';

/** What an unknown (or not yet verified) sender may send: a message or a small statement. */
export const SMALL_BODY_BYTES = 256 * 1024;
/** A known peer's statement: some 60,000 lines; a month of a large instance is far below this. */
export const SETTLEMENT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;
/** As Fedify's verifyRequest: a signature's Date may be an hour off either way. */
const TIME_WINDOW_MS = 60 * 60 * 1000;
const REQUIRED_HEADERS = ['(request-target)', 'host', 'date', 'digest'];

export interface AdmittedSender {
  origin: string;
  /** The most this sender's body may be, in bytes. */
  limit: number;
  /** The SHA-256 the signed Digest header names. */
  digest: Buffer;
}

/** Checks the signature over the headers; throws 401/403/413 without touching the body. */
export async function admitSender(ctx: Context, method: string, path: string, headers: Headers): Promise<AdmittedSender> {
  const declared = Number(headers.get('content-length'));
  if (Number.isFinite(declared) && declared > SETTLEMENT_BODY_LIMIT_BYTES) {
    throw new AppError('payload_too_large', `a settlement message is at most ${SETTLEMENT_BODY_LIMIT_BYTES} bytes`);
  }
  const header = headers.get('signature');
  if (!header) throw new AppError('unauthorized', 'the request is not signed by an instance actor');
  if (headers.has('signature-input')) throw new AppError('unauthorized', 'sign settlement messages with draft-cavage HTTP Signatures');
  const repeated = repeatedSignatureParameter(headers);
  if (repeated) throw new AppError('unauthorized', `the signature names a parameter twice (${repeated})`);
  const params = Object.fromEntries(
    header
      .split(',')
      .map((pair) => /^\s*([A-Za-z]+)="([^"]*)"\s*$/.exec(pair))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  const keyId = URL.parse(params.keyId ?? '');
  if (!keyId || !params.signature || !params.headers) throw new AppError('unauthorized', 'the Signature header names no keyId, headers or signature');
  const covered = params.headers.toLowerCase().split(/\s+/);
  if (!REQUIRED_HEADERS.every((name) => covered.includes(name))) {
    throw new AppError('unauthorized', `the signature must cover ${REQUIRED_HEADERS.join(', ')}`);
  }
  const date = Date.parse(headers.get('date') ?? '');
  if (!Number.isFinite(date) || Math.abs(date - Date.now()) > TIME_WINDOW_MS)
    throw new AppError('unauthorized', "the signature's Date is missing or more than an hour off");
  const digest = sha256Digest(headers.get('digest'));
  if (!digest) throw new AppError('unauthorized', 'the request has no SHA-256 Digest header');
  const origin = keyId.origin;
  const peer = await ctx.db.selectFrom('peers').select(['blocked']).where('origin', '=', origin).executeTakeFirst();
  if (peer?.blocked) throw new AppError('peer_blocked', 'this instance does not settle with yours');

  const actorIri = instanceActorIri(origin);
  const publicKey = await ctx.transport.senderKey(keyId, actorIri);
  const message = covered
    .map((name) => `${name}: ${name === '(request-target)' ? `${method.toLowerCase()} ${path.split('?', 1)[0]}` : headers.get(name)}`)
    .join('\n');
  let verified = false;
  try {
    verified = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', publicKey, Buffer.from(params.signature, 'base64'), new TextEncoder().encode(message));
  } catch {
    verified = false;
  }
  if (!verified) throw new AppError('unauthorized', "the HTTP signature does not verify as the sending instance's actor");
  const actor = await ctx.directory.lookup(actorIri).catch(() => null);
  if (actor?.kind !== 'actor' || actor.iri !== actorIri || !actor.publicKeyIds.includes(keyId.href)) {
    throw new AppError('unauthorized', "the sending instance's actor does not list the signing key");
  }
  const limit = (await isKnownPeer(ctx, origin)) ? SETTLEMENT_BODY_LIMIT_BYTES : SMALL_BODY_BYTES;
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  return { origin, limit, digest };
}

/**
 * Reads an admitted sender's body: at most its limit, and only what the signed Digest names.
 * Past the limit the rest is discarded as it arrives (the stream is not destroyed: the answer
 * must still reach the sender, and a kept-alive connection must stay usable).
 */
export function readAdmittedBody(raw: IncomingMessage, admitted: AdmittedSender): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > admitted.limit) {
        raw.off('data', onData).off('end', onEnd);
        chunks.length = 0;
        raw.resume();
        reject(tooLarge(admitted.limit));
        return;
      }
      hash.update(chunk);
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (!timingSafeEqual(hash.digest(), admitted.digest)) reject(new AppError('unauthorized', 'the body does not match the signed Digest'));
      else resolve(Buffer.concat(chunks, size));
    };
    raw.on('data', onData).on('end', onEnd).once('error', reject);
  });
}

/** A peer we deal with: trusted or pending (any trace of it, not blocked). */
export async function isKnownPeer(ctx: Context, origin: string): Promise<boolean> {
  const row = await ctx.db
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('peers').select('origin').where('origin', '=', origin).where('blocked', '=', false)).as('peer'),
      eb.exists(eb.selectFrom('statements').select('id').where('peer_origin', '=', origin)).as('statement'),
      eb.exists(eb.selectFrom('accounts').select('id').where('code', '=', `peer:${origin}`)).as('account'),
      eb.exists(eb.selectFrom('incoming_flattrs').select('id').where('instance_origin', '=', origin)).as('flattr'),
    ])
    .executeTakeFirst();
  return Boolean(row && (row.peer || row.statement || row.account || row.flattr));
}

function tooLarge(limit: number): AppError {
  return new AppError(
    'payload_too_large',
    `a settlement message from this sender is at most ${limit} bytes${limit === SMALL_BODY_BYTES ? ' until it is a known peer' : ''}`,
  );
}

function sha256Digest(header: string | null): Buffer | null {
  for (const part of (header ?? '').split(',')) {
    const at = part.indexOf('=');
    if (at < 0 || part.slice(0, at).trim().toLowerCase() !== 'sha-256') continue;
    const value = Buffer.from(part.slice(at + 1).trim(), 'base64');
    if (value.length === 32) return value;
  }
  return null;
}
