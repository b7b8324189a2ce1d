/**
 * The SettlementTransport port (src/ports.ts) on Fedify: settlement messages are POSTed HTTP-signed
 * with the instance actor's RSA key; their proofs use its Ed25519 key (the multikey its actor
 * document lists in assertionMethod). Receiving: the HTTP signature must verify (Fedify's
 * verifyRequest), the key must be on the sender's origin and be its instance actor's.
 */
import { type Federation, fetchKey, signRequest, verifyRequest } from '@fedify/fedify';
import { CryptographicKey, isActor } from '@fedify/vocab';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { instanceActorIri } from '../core/iris.ts';
import type { SettlementTransport } from '../ports.ts';
import { INSTANCE_ACTOR } from './instance-actor.ts';
import { signingKeyId } from './key-guard.ts';

const TIMEOUT_MS = 30_000;

export function createSettlementTransport(ctx: Context, federation: Federation<void>): SettlementTransport {
  const fctx = () => federation.createContext(new URL(ctx.config.origin), undefined);
  return {
    sender: async () => {
      const pairs = await fctx().getActorKeyPairs(INSTANCE_ACTOR);
      const rsa = pairs.find((p) => p.privateKey.algorithm.name === 'RSASSA-PKCS1-v1_5');
      const ed25519 = pairs.find((p) => p.privateKey.algorithm.name === 'Ed25519');
      if (!rsa || !ed25519?.multikey.id) throw new Error('the instance actor has no RSA or no Ed25519 key');
      return {
        signer: { privateKey: ed25519.privateKey, verificationMethod: ed25519.multikey.id.href },
        post: async (url, body) => {
          const request = await signRequest(
            new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
            rsa.privateKey,
            rsa.keyId,
          );
          const response = await fetch(request, { signal: AbortSignal.timeout(TIMEOUT_MS) });
          return { ok: response.ok, status: response.status, text: await response.text() };
        },
      };
    },
    verifySender: async (request) => {
      const keyId = signingKeyId(request.headers);
      if (!keyId) throw new AppError('unauthorized', 'the request is not signed by an instance actor');
      const origin = new URL(keyId).origin;
      const actorIri = instanceActorIri(origin);
      const context = fctx();
      const key = await verifyRequest(request.clone(), { documentLoader: context.documentLoader, contextLoader: context.contextLoader });
      if (!key || key.id?.href !== keyId || key.ownerId?.href !== actorIri) {
        throw new AppError('unauthorized', "the HTTP signature does not verify as the sending instance's actor");
      }
      const actor = await context.lookupObject(actorIri).catch(() => null);
      if (!actor || !isActor(actor) || actor.id?.href !== actorIri || !actor.publicKeyIds.some((id) => id.href === keyId)) {
        throw new AppError('unauthorized', "the sending instance's actor does not list the signing key");
      }
      const multikeys = new Map<string, CryptoKey>();
      for await (const method of actor.getAssertionMethods({ documentLoader: context.documentLoader })) {
        if (method.id && method.publicKey) multikeys.set(method.id.href, method.publicKey);
      }
      return { origin, multikeys };
    },
    senderKey: async (keyId, actorIri) => {
      const context = fctx();
      const key = await fetchKey(keyId, CryptographicKey, { documentLoader: context.documentLoader, contextLoader: context.contextLoader }).catch(() => ({
        key: null,
      }));
      if (!key.key?.publicKey || key.key.id?.href !== keyId.href || key.key.ownerId?.href !== actorIri) {
        throw new AppError('unauthorized', "the signing key is not the sending instance's actor's");
      }
      return key.key.publicKey;
    },
  };
}
