/**
 * The inbox's door (issue 12): before Fedify sees a delivery, the request must be HTTP-signed,
 * name no signature parameter twice (signature-params.ts), verify with Fedify's own
 * `verifyRequestDetailed`, and the key that verified it must be on the origin of the activity's
 * actor, as Fedify's `Activity.fromJsonLd` reads it (JSON-LD terms and all, not the raw `actor`
 * key), and be listed by that actor's own document (`publicKey` or `assertionMethod`). Fedify
 * only compares the key document's `owner` claim with the actor, which anyone can write.
 *
 * A refused request is answered 401 (400 for a body that is no activity) and nothing is
 * recorded. The key that verified goes with the request to the listeners, which check again
 * against the activity as Fedify itself parsed it (inbox-auth.ts): that check is the decisive
 * one, this one answers a forgery at once instead of with a silent 202.
 */
import { detachSignature, type Federation, verifyRequestDetailed } from '@fedify/fedify';
import { Activity } from '@fedify/vocab';
import { repeatedSignatureParameter } from '../net/signature-params.ts';
import { actorOwnsKey } from './inbox-auth.ts';

export type GuardResult = { ok: true; keyId: URL } | { ok: false; status: number; message: string };

export class KeyGuard {
  readonly #federation: Federation<void>;
  readonly #origin: URL;

  constructor(federation: Federation<void>, origin: string) {
    this.#federation = federation;
    this.#origin = new URL(origin);
  }

  /** Checks a delivery; `request` is the request as Fedify will get it (its body unread). */
  async check(request: Request, body: Buffer): Promise<GuardResult> {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return { ok: false, status: 400, message: 'the body is not JSON' };
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return { ok: false, status: 400, message: 'the body is not an activity' };
    }
    if (!request.headers.has('signature') && !request.headers.has('signature-input')) {
      return { ok: false, status: 401, message: 'the request is not signed' };
    }
    const repeated = repeatedSignatureParameter(request.headers);
    if (repeated) return { ok: false, status: 401, message: `the signature names a parameter twice (${repeated})` };
    // With every parameter named once, this is the key id any parser reads.
    const named = parseUrl(signingKeyId(request.headers));
    if (!named) return { ok: false, status: 401, message: 'the signature names no key' };
    const fctx = this.#federation.createContext(this.#origin, undefined);
    const loaders = { documentLoader: fctx.documentLoader, contextLoader: fctx.contextLoader };
    let activity: Activity;
    try {
      activity = await Activity.fromJsonLd(detachSignature(json), loaders);
    } catch {
      return { ok: false, status: 400, message: 'the body is not an activity' };
    }
    const actors = activity.actorIds;
    if (actors.length !== 1) return { ok: false, status: 400, message: 'the activity must name exactly one actor' };
    const actor = actors[0]!;
    // Refused before any key is fetched: a key on another server is never the actor's.
    if (named.origin !== actor.origin) return { ok: false, status: 401, message: "the signing key is not on the actor's server" };
    let keyId: URL | null | undefined;
    try {
      const verification = await verifyRequestDetailed(request.clone(), loaders);
      keyId = verification.verified ? verification.key.id : null;
    } catch {
      keyId = null;
    }
    if (!keyId) return { ok: false, status: 401, message: 'the HTTP signature does not verify' };
    const owned = await actorOwnsKey(fctx, actor, keyId.href);
    if (owned !== true) return { ok: false, status: 401, message: owned };
    return { ok: true, keyId };
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

function parseUrl(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}
