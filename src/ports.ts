/**
 * The two ports through which the domain reaches the network (issue 11). The ActivityPub adapter
 * implements them with Fedify; the composition root (instance.ts) sets them on the context. A
 * context made without a network has the offline ones below, which refuse with a clear error:
 * nothing in the domain tests for a network and quietly does less.
 *
 * Both answer plain records, never Fedify objects.
 */
import { AppError } from './core/errors.ts';

/** An ActivityPub actor as the domain needs it. */
export interface ActorRecord {
  readonly kind: 'actor';
  readonly iri: string;
  readonly inbox: string | null;
  readonly sharedInbox: string | null;
  readonly preferredUsername: string | null;
  /** Its `alsoKnownAs`. */
  readonly aliases: readonly string[];
  /** The ids of the keys it lists (`publicKey`). */
  readonly publicKeyIds: readonly string[];
}

/** Any other ActivityPub object (a post, a Farthing thing). */
export interface ObjectRecord {
  readonly kind: 'object';
  readonly iri: string | null;
  /** Its `url`, when that is a plain URL. */
  readonly url: string | null;
  /** Its name, summary or content as one line of text (at most 200 characters). */
  readonly title: string | null;
}

export type DirectoryRecord = ActorRecord | ObjectRecord;

/**
 * How a lookup reads documents: `always` signed as the instance actor (servers in authorized-fetch
 * mode answer only so), `when-refused` unsigned first and signed only when a server answers 401 or
 * 403; none given, the adapter's default.
 */
export interface LookupOptions {
  readonly signing?: 'always' | 'when-refused';
}

/** The head of an HTML page: its title, rel=payment links, fediverse:creator handles and author links. */
export interface Page {
  title: string | null;
  payment: string[];
  creators: string[];
  /** Author links (`rel="author"`, `rel="me"` on a link or an anchor) to a profile. */
  authors: string[];
}

/** Looking things up on the network: actors, objects, handles, pages and what software a server runs. */
export interface Directory {
  /** The actor or object at an IRI; null when it cannot be read. */
  lookup(iri: string, options?: LookupOptions): Promise<DirectoryRecord | null>;
  /** The actor a handle (`user@host`) names, through WebFinger; null when there is none. */
  handle(user: string, host: string, options?: LookupOptions): Promise<DirectoryRecord | null>;
  /** An object's author, only if the author lives on the object's own server (as Mastodon requires). */
  author(object: ObjectRecord, options?: LookupOptions): Promise<ActorRecord | null>;
  /**
   * Every URL an actor document points to as its owner's elsewhere: `alsoKnownAs`, `url`, and the
   * links in profile fields. Bounded; duplicates dropped.
   */
  pointers(actor: ActorRecord, options?: LookupOptions): Promise<string[]>;
  /** The head of the HTML page at `url`; null when it cannot be read or is not HTML. */
  page(url: string): Promise<Page | null>;
  /** NodeInfo's software name of the server of `iri` (e.g. 'farthing', 'mastodon'); null when unknown. */
  software(iri: string): Promise<string | null>;
}

/** Signs settlement messages as the instance actor (Ed25519, eddsa-jcs-2022 proofs). */
export interface ProofSigner {
  readonly privateKey: CryptoKey;
  readonly verificationMethod: string;
}

/** What answered a POST. */
export interface PostResult {
  readonly ok: boolean;
  readonly status: number;
  readonly text: string;
}

/** One sending session: the instance actor's keys, read once. */
export interface SettlementSender {
  readonly signer: ProofSigner;
  /** POSTs a JSON body to a peer, HTTP-signed as the instance actor; rejects when unreachable. */
  post(url: string, body: string): Promise<PostResult>;
}

/** A verified sender: its origin and the Ed25519 keys (by id) its instance actor lists in assertionMethod. */
export interface VerifiedSender {
  origin: string;
  multikeys: Map<string, CryptoKey>;
}

/** The settlement channel's network side: sign, verify the sender, post. */
export interface SettlementTransport {
  /** The instance actor's keys, for signing and posting. */
  sender(): Promise<SettlementSender>;
  /** Who sent a signed request (the HTTP signature over the body); throws 401 unauthorized otherwise. */
  verifySender(request: Request): Promise<VerifiedSender>;
  /**
   * The public key `keyId` names, when it is `actorIri`'s; throws 401 unauthorized otherwise.
   * Reads nothing but the key (the settlement inbox checks headers before any body).
   */
  senderKey(keyId: URL, actorIri: string): Promise<CryptoKey>;
}

function offline(what: string): AppError {
  return new AppError('unavailable', `this instance has no network (no federation was set up), so it cannot ${what}`);
}

/** The directory of an instance without a network: every lookup refuses. */
export const offlineDirectory: Directory = {
  lookup: async () => {
    throw offline('look up fediverse documents');
  },
  handle: async () => {
    throw offline('look up fediverse accounts');
  },
  author: async () => {
    throw offline('look up fediverse documents');
  },
  pointers: async () => {
    throw offline('look up fediverse documents');
  },
  page: async () => {
    throw offline('read web pages');
  },
  software: async () => {
    throw offline('ask a server what software it runs');
  },
};

/** The settlement transport of an instance without a network: everything refuses. */
export const offlineTransport: SettlementTransport = {
  sender: async () => {
    throw offline('send settlement messages');
  },
  verifySender: async () => {
    throw offline('receive settlement messages');
  },
  senderKey: async () => {
    throw offline('receive settlement messages');
  },
};
