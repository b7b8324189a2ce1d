/**
 * The signed settlement channel between instances: every message (a statement, its acceptance
 * or dispute, a payment, its confirmation) is POSTed to the peer's /settlement/inbox, HTTP-signed
 * with this instance actor's RSA key, and retried until the peer answers 2xx. Like a statement,
 * every other message carries an eddsa-jcs-2022 proof by the instance actor's Ed25519 key, so the
 * peer keeps a record (an acceptance, a payment's reference) that it can show to a third party;
 * it is added at delivery, the same proof at every attempt (Ed25519 is deterministic and the
 * proof's `created` is the time the message was queued).
 *
 * Messages are written to settlement_deliveries in the transaction of whatever caused them, so
 * none is lost when the process dies; the common relay (src/jobs/relay.ts, whose header states
 * which clock counts) delivers them strictly in order per peer (a statement chain must arrive in
 * sequence: a message waits until the one before it is delivered), backing off from 2 s up to an
 * hour between attempts, on the instance clock.
 *
 * Receiving: the HTTP signature must verify, the key must be on the sender's origin and be its
 * instance actor's, and the message must name that actor as issuer. Signing, posting and checking
 * the sender are the settlement transport's (src/ports.ts, ctx.transport).
 */
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { instanceActorIri, settlementInboxIri } from '../core/iris.ts';
import { type RelaySpec, relayDue } from '../jobs/relay.ts';
import type { Executor } from '../ledger/accounts.ts';
import type { ProofSigner, VerifiedSender } from '../ports.ts';
import { startWorker, type Worker, wakeWorker } from '../worker.ts';
import { CRYPTOSUITE, createProof, PROOF_TYPE, verifyProof } from './eddsa-jcs-2022.ts';

const BATCH = 50;
/** A claimed message's lease: longer than an attempt's timeout. */
const CLAIM_SECONDS = 60;
const MAX_BACKOFF_SECONDS = 3600;
const POLL_MS = 2_000;

export { instanceActorIri };

export function settlementInbox(origin: string): string {
  return settlementInboxIri(origin);
}

/** Queues a message to a peer, in the caller's transaction; the same message_id queues once. */
export async function queueMessage(db: Executor, ctx: Context, peerOrigin: string, messageId: string, body: string): Promise<void> {
  await db
    .insertInto('settlement_deliveries')
    // Due at once (never attempted), whichever process's clock queued it.
    .values({ message_id: messageId, url: settlementInbox(peerOrigin), body, next_attempt_at: ctx.clock.now(), created_at: ctx.clock.now() })
    .onConflict((oc) => oc.column('message_id').doNothing())
    .execute();
}

const WORKER = 'settlement delivery';

export function wakeSettlementRelay(ctx: Context): void {
  wakeWorker(ctx, WORKER);
}

interface DeliveryRow {
  id: bigint;
  url: string;
  body: string;
  attempts: number;
  created_at: Date;
}

/** Delivers what is due now; answers how many messages were delivered. */
export async function deliverDue(ctx: Context): Promise<number> {
  let sending: ReturnType<Context['transport']['sender']> | undefined;
  const spec: RelaySpec<DeliveryRow> = {
    name: WORKER,
    table: 'settlement_deliveries',
    pending: (r) => `${r}.delivered_at IS NULL`,
    orderBy: 'r.id',
    group: 'url',
    schedule: {
      dueColumn: 'next_attempt_at',
      attemptsColumn: 'attempts',
      retrySeconds: (attempts) => Math.min(2 ** attempts, MAX_BACKOFF_SECONDS),
    },
    batch: BATCH,
    leaseSeconds: CLAIM_SECONDS,
    load: (ids) =>
      ctx.db.selectFrom('settlement_deliveries').select(['id', 'url', 'body', 'attempts', 'created_at']).where('id', 'in', ids).orderBy('id').execute(),
    deliver: async (row) => {
      // Without the instance's keys the delivery throws: its lease runs out and it is tried again.
      sending ??= ctx.transport.sender();
      const sender = await sending;
      try {
        const response = await sender.post(row.url, await withProof(row.body, sender.signer, new Date(row.created_at)));
        return { ok: response.ok, status: `${response.status} ${response.text.slice(0, 500)}` };
      } catch (error) {
        return { ok: false, status: `unreachable: ${(error as Error).message}` };
      }
    },
    record: (_row, outcome, attempt) => ({
      last_status: attempt.status ?? null,
      ...(outcome.kind === 'done' ? { delivered_at: ctx.clock.now() } : {}),
    }),
  };
  return (await relayDue(ctx, spec)).done;
}

/** The instance actor's Ed25519 key (the multikey its actor document lists in assertionMethod) that signs statements and messages. */
export async function instanceSigner(ctx: Context): Promise<ProofSigner> {
  return (await ctx.transport.sender()).signer;
}

/**
 * A settlement message with its eddsa-jcs-2022 proof (assertionMethod). A statement is signed
 * when it is issued, and goes as it is.
 */
export async function withProof(body: string, signer: ProofSigner, created: Date): Promise<string> {
  const message = JSON.parse(body) as Record<string, unknown>;
  if (message.type === 'FlattrStatement' || 'proof' in message) return body;
  const options = {
    type: PROOF_TYPE,
    cryptosuite: CRYPTOSUITE,
    verificationMethod: signer.verificationMethod,
    proofPurpose: 'assertionMethod',
    created: created.toISOString(),
  };
  const proof = await createProof(message, options, signer.privateKey);
  return JSON.stringify({ ...message, proof: { ...options, proofValue: proof.proofValue } });
}

/**
 * Checks the proof of a settlement message other than a statement: by a key the sender's
 * instance actor lists in assertionMethod, for that purpose, over the message as received.
 * Throws 401 unauthorized saying what is wrong.
 */
export async function verifyMessageProof(message: Record<string, unknown>, multikeys: Map<string, CryptoKey>): Promise<void> {
  const proof = message.proof as Record<string, unknown> | undefined;
  if (typeof proof !== 'object' || proof === null)
    throw new AppError('unauthorized', "the message has no proof (eddsa-jcs-2022 by the sending instance actor's key)");
  const key = typeof proof.verificationMethod === 'string' ? multikeys.get(proof.verificationMethod) : undefined;
  if (!key) throw new AppError('unauthorized', "the message's proof is not by a key the sending instance actor lists in assertionMethod");
  if (proof.proofPurpose !== 'assertionMethod') throw new AppError('unauthorized', "the message's proof must be for assertionMethod");
  let check: Awaited<ReturnType<typeof verifyProof>>;
  try {
    check = await verifyProof(message, key);
  } catch (error) {
    throw new AppError('unauthorized', `the message's proof cannot be checked: ${(error as Error).message}`);
  }
  if (!check.verified) throw new AppError('unauthorized', `the message's proof does not verify: ${check.message}`);
}

/** Runs the delivery worker in this process: at once when woken, else every POLL_MS. */
export function startSettlementRelay(ctx: Context): Worker {
  return startWorker(ctx, WORKER, POLL_MS, async () => {
    await deliverDue(ctx);
  });
}

/**
 * Who sent a settlement request: the origin of a peer whose instance actor signed it. Throws
 * 401 unauthorized otherwise. Answers the sender's origin and its actor document's Ed25519
 * multikeys (by id), which statements' proofs must use.
 */
export async function verifySender(ctx: Context, request: Request): Promise<VerifiedSender> {
  return ctx.transport.verifySender(request);
}
