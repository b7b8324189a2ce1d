/**
 * Who may act in our inbox (issue 12): an activity counts only if every key that may have
 * authenticated it is on the actor's own origin and listed by the actor's own document
 * (`publicKey` or `assertionMethod`), the actor being the one Fedify parsed.
 *
 * Fedify authenticates an activity by its Linked Data signature, else by its Object Integrity
 * Proofs, else by the HTTP signature, and checks only that the key's document *claims* the actor
 * as owner or controller. Its listeners run later, from the queue, and are not told which key
 * verified. So:
 *   - the bridge (key-guard.ts) verifies the HTTP signature itself, with Fedify's own function,
 *     and runs Fedify's handling of the request inside `withVerifiedKey`;
 *   - the queue wrapper below writes that key into the inbox message Fedify enqueues, and gives
 *     the message back (an AsyncLocalStorage) while Fedify runs the listener for it;
 *   - `inboxActor` (called by every listener) takes the keys that may have authenticated the
 *     activity: that HTTP key, the Linked Data signature's key when Fedify says it verified,
 *     every proof's verification method; and checks each against the actor as parsed. Without a
 *     recorded HTTP key it cannot tell, and refuses.
 *
 * A confirmed (actor, key) pair is remembered for ten minutes, so a busy inbox does not fetch an
 * actor per activity; actor documents come through Fedify's (cached) document loader.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context as FedifyContext, MessageQueue, MessageQueueDepth, MessageQueueEnqueueOptions, MessageQueueListenOptions } from '@fedify/fedify';
import { type Activity, isActor } from '@fedify/vocab';

const CONFIRMED_TTL_MS = 10 * 60 * 1000;
const CONFIRMED_MAX = 10_000;
/** The field of a queued inbox message that says which key verified its HTTP signature. */
const HTTP_KEY_FIELD = 'farthingHttpSignatureKey';

interface Store {
  /** While Fedify handles a request the bridge has verified: the key that signed it. */
  httpKeyId?: string;
  /** While Fedify runs a queued message's listener: that message. */
  queued?: Record<string, unknown>;
}

const store = new AsyncLocalStorage<Store>();

/** Runs Fedify's handling of a request whose HTTP signature `keyId` verified. */
export function withVerifiedKey<T>(keyId: URL, run: () => Promise<T>): Promise<T> {
  return store.run({ httpKeyId: keyId.href }, run);
}

/** Fedify's queue, with the verifying key carried in the inbox messages (see above). */
export class AuthenticatingQueue implements MessageQueue {
  readonly #inner: MessageQueue;
  readonly nativeRetrial?: boolean;

  constructor(inner: MessageQueue) {
    this.#inner = inner;
    this.nativeRetrial = inner.nativeRetrial;
  }

  enqueue(message: unknown, options?: MessageQueueEnqueueOptions): Promise<void> {
    return this.#inner.enqueue(tagged(message), options);
  }

  async enqueueMany(messages: readonly unknown[], options?: MessageQueueEnqueueOptions): Promise<void> {
    const all = messages.map(tagged);
    if (this.#inner.enqueueMany) return this.#inner.enqueueMany(all, options);
    for (const message of all) await this.#inner.enqueue(message, options);
  }

  listen(handler: (message: any) => Promise<void> | void, options?: MessageQueueListenOptions): Promise<void> {
    return this.#inner.listen((message) => store.run({ queued: message }, () => handler(message)), options);
  }

  getDepth(): Promise<MessageQueueDepth> {
    if (!this.#inner.getDepth) return Promise.resolve({ queued: 0, ready: 0, delayed: 0 });
    return this.#inner.getDepth();
  }
}

function tagged(message: unknown): unknown {
  if (typeof message !== 'object' || message === null) return message;
  const record = message as Record<string, unknown>;
  // A retry is enqueued from the listener with the field already copied.
  if (record.type !== 'inbox' || HTTP_KEY_FIELD in record) return message;
  const httpKeyId = store.getStore()?.httpKeyId;
  return httpKeyId ? { ...record, [HTTP_KEY_FIELD]: httpKeyId } : message;
}

export type InboxActor = { ok: true; actor: URL } | { ok: false; reason: string };

/**
 * The actor of an activity a listener is running for, if every key that may have authenticated
 * it is that actor's; else why not. Listeners act on nothing else.
 */
export async function inboxActor(fctx: FedifyContext<void>, activity: Activity): Promise<InboxActor> {
  const queued = store.getStore()?.queued;
  const httpKeyId = queued?.[HTTP_KEY_FIELD];
  if (typeof httpKeyId !== 'string') return { ok: false, reason: 'no record of the key that verified the request' };
  const actors = activity.actorIds;
  if (actors.length !== 1) return { ok: false, reason: 'an activity must name exactly one actor' };
  const actor = actors[0]!;
  const keys = new Set([httpKeyId]);
  if (queued?.ldSignatureVerified === true) {
    const creator = (queued.activity as { signature?: { creator?: unknown } } | undefined)?.signature?.creator;
    if (typeof creator !== 'string') return { ok: false, reason: 'a verified Linked Data signature without a creator' };
    keys.add(creator);
  }
  try {
    for await (const proof of activity.getProofs({ documentLoader: fctx.documentLoader, contextLoader: fctx.contextLoader })) {
      const method = proof.verificationMethodId;
      if (!method) return { ok: false, reason: 'a proof without a verification method' };
      keys.add(method.href);
    }
  } catch {
    return { ok: false, reason: "the activity's proofs cannot be read" };
  }
  for (const key of keys) {
    const checked = await actorOwnsKey(fctx, actor, key);
    if (checked !== true) return { ok: false, reason: `${checked} (${key})` };
  }
  return { ok: true, actor };
}

const confirmed = new Map<string, number>();

/** True if `keyId` is on the actor's origin and its own document lists it; else why not. */
export async function actorOwnsKey(fctx: FedifyContext<void>, actor: URL, keyId: string): Promise<true | string> {
  let key: URL;
  try {
    key = new URL(keyId);
  } catch {
    return 'the key id is not a URL';
  }
  if (key.origin !== actor.origin) return "the signing key is not on the actor's server";
  const pair = `${actor.href}\n${key.href}`;
  const until = confirmed.get(pair);
  if (until !== undefined && until > Date.now()) return true;
  let listed = false;
  try {
    const document = await fctx.lookupObject(actor.href);
    if (document && isActor(document) && document.id?.href === actor.href) {
      listed = [...document.publicKeyIds, ...document.assertionMethodIds].some((id) => id.href === key.href);
    }
  } catch {
    listed = false;
  }
  if (!listed) return 'the actor does not list the signing key';
  if (confirmed.size >= CONFIRMED_MAX) confirmed.clear();
  confirmed.set(pair, Date.now() + CONFIRMED_TTL_MS);
  return true;
}
