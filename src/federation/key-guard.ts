/**
 * The check Fedify 2.3.6 leaves out (design.md): its inbox accepts a signing key whose document
 * merely claims the activity's actor as owner (`doesActorOwnKey` compares `key.owner` with the
 * actor and nothing else). Anyone could then publish a key "owned by" a victim and sign as them.
 * Money depends on these signatures, so before an activity reaches Fedify:
 *   1. the signing key's id is on the actor's own origin, and
 *   2. the actor's document lists that key (publicKey or assertionMethod).
 * Fedify then verifies the signature itself. An activity failing either is refused with 401.
 *
 * The actor documents come through Fedify's document loader (cached in our KV store), and a
 * confirmed (actor, key) pair is remembered for ten minutes in memory, so a busy inbox does not
 * fetch an actor per activity.
 */
import type { Federation } from '@fedify/fedify';
import { isActor } from '@fedify/vocab';

const CONFIRMED_TTL_MS = 10 * 60 * 1000;
const CONFIRMED_MAX = 10_000;

export type GuardResult = { ok: true } | { ok: false; status: number; message: string };

export class KeyGuard {
  readonly #federation: Federation<void>;
  readonly #origin: URL;
  readonly #confirmed = new Map<string, number>();

  constructor(federation: Federation<void>, origin: string) {
    this.#federation = federation;
    this.#origin = new URL(origin);
  }

  async check(headers: Headers, body: Buffer): Promise<GuardResult> {
    let activity: unknown;
    try {
      activity = JSON.parse(body.toString('utf8'));
    } catch {
      return { ok: false, status: 400, message: 'the body is not JSON' };
    }
    if (typeof activity !== 'object' || activity === null || Array.isArray(activity)) {
      return { ok: false, status: 400, message: 'the body is not an activity' };
    }
    const actorValue = (activity as { actor?: unknown }).actor;
    const actor = parseUrl(typeof actorValue === 'string' ? actorValue : (actorValue as { id?: unknown } | undefined)?.id);
    if (!actor) return { ok: false, status: 400, message: 'the activity names no actor' };
    const keyId = parseUrl(signingKeyId(headers));
    if (!keyId) return { ok: false, status: 401, message: 'the request is not signed' };
    if (keyId.origin !== actor.origin) {
      return { ok: false, status: 401, message: 'the signing key is not on the actor\'s server' };
    }
    const pair = `${actor.href}\n${keyId.href}`;
    const until = this.#confirmed.get(pair);
    if (until !== undefined && until > Date.now()) return { ok: true };
    if (!(await this.#actorListsKey(actor, keyId))) {
      return { ok: false, status: 401, message: 'the actor does not list the signing key' };
    }
    if (this.#confirmed.size >= CONFIRMED_MAX) this.#confirmed.clear();
    this.#confirmed.set(pair, Date.now() + CONFIRMED_TTL_MS);
    return { ok: true };
  }

  async #actorListsKey(actor: URL, keyId: URL): Promise<boolean> {
    const fctx = this.#federation.createContext(this.#origin, undefined);
    try {
      const document = await fctx.lookupObject(actor.href);
      if (!document || !isActor(document) || document.id?.href !== actor.href) return false;
      const listed = [...document.publicKeyIds, ...document.assertionMethodIds].map((id) => id.href);
      return listed.includes(keyId.href);
    } catch {
      return false;
    }
  }
}

/** keyId of a draft-cavage `Signature` header, or keyid of an RFC 9421 `Signature-Input`. */
export function signingKeyId(headers: Headers): string | undefined {
  const cavage = headers.get('signature');
  const fromCavage = cavage && /(?:^|,)\s*keyId="([^"]+)"/.exec(cavage)?.[1];
  if (fromCavage) return fromCavage;
  const input = headers.get('signature-input');
  return (input && /;\s*keyid="([^"]+)"/.exec(input)?.[1]) || undefined;
}

function parseUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}
