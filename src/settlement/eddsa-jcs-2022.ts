/**
 * The W3C Data Integrity cryptosuite eddsa-jcs-2022 (Data Integrity EdDSA Cryptosuites v1.0,
 * sections 3.3.1-3.3.7), for any JSON document, with Node's WebCrypto doing Ed25519 and SHA-256:
 *
 *   proofConfig = JCS(proof options, without proofValue)
 *   document    = JCS(document, without proof)
 *   hashData    = SHA-256(proofConfig) || SHA-256(document)       (64 bytes, config first)
 *   proofValue  = "z" + base58btc(Ed25519-sign(hashData))          (multibase, 64-byte signature)
 *
 * Kept free of anything Farthing-specific so that the spec's own test vector can check it.
 */
import basex from '@multiformats/base-x';
import { canonicalize } from './canonical.ts';

export const PROOF_TYPE = 'DataIntegrityProof';
export const CRYPTOSUITE = 'eddsa-jcs-2022';

type JsonObject = { readonly [key: string]: unknown };

/** Everything a proof says except its value. `@context` is added by createProof when the document has one. */
export interface ProofOptions {
  readonly type: string;
  readonly cryptosuite: string;
  readonly verificationMethod: string;
  readonly proofPurpose: string;
  readonly created?: string;
  readonly [key: string]: unknown;
}

export interface DataIntegrityProof extends ProofOptions {
  readonly proofValue: string;
}

export type ProofFailure =
  | 'wrong_proof_type'
  | 'wrong_cryptosuite'
  | 'proof_created_invalid'
  | 'proof_value_malformed'
  | 'proof_context_mismatch'
  | 'signature_invalid';

export type ProofCheck = { verified: true } | { verified: false; failure: ProofFailure; message: string };

/** Create Proof (3.3.1): signs `unsecuredDocument` (which must not contain `proof`) and answers the proof to attach. */
export async function createProof(unsecuredDocument: JsonObject, options: ProofOptions, privateKey: CryptoKey): Promise<DataIntegrityProof> {
  assertEd25519(privateKey, 'private');
  if ('proof' in unsecuredDocument) throw new TypeError('the document to sign already has a proof');
  const problem = optionsProblem(options);
  if (problem) throw new TypeError(problem.message);
  // Step 2: a proof carries the document's @context so that it stays valid inside proof sets/chains.
  const proof: Record<string, unknown> = { ...options };
  if (unsecuredDocument['@context'] !== undefined) proof['@context'] = unsecuredDocument['@context'];
  const data = await hashData(unsecuredDocument, proof);
  const signature = new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, data));
  return { ...(proof as ProofOptions), proofValue: encodeMultibaseBase58btc(signature) };
}

/** Verify Proof (3.3.2) of a document that carries its proof under `proof`. */
export async function verifyProof(securedDocument: JsonObject, publicKey: CryptoKey): Promise<ProofCheck> {
  assertEd25519(publicKey, 'public');
  const { proof, ...unsecuredDocument }: Record<string, unknown> = securedDocument;
  if (typeof proof !== 'object' || proof === null || Array.isArray(proof)) {
    return fail('proof_value_malformed', 'the document has no proof object');
  }
  const { proofValue, ...proofOptions } = proof as Record<string, unknown>;
  const problem = optionsProblem(proofOptions);
  if (problem) return problem;
  const signature = typeof proofValue === 'string' ? decodeMultibaseBase58btc(proofValue) : undefined;
  if (signature?.length !== 64) {
    return fail('proof_value_malformed', 'proofValue must be a base58btc multibase ("z...") Ed25519 signature of 64 bytes');
  }
  if (proofOptions['@context'] !== undefined) {
    if (!startsWithContext(unsecuredDocument['@context'], proofOptions['@context'])) {
      return fail('proof_context_mismatch', "the document's @context does not start with the proof's @context");
    }
    unsecuredDocument['@context'] = proofOptions['@context'];
  }
  const data = await hashData(unsecuredDocument, proofOptions);
  const ok = await crypto.subtle.verify('Ed25519', publicKey, signature, data);
  return ok ? { verified: true } : fail('signature_invalid', 'the Ed25519 signature does not match the document and proof options');
}

/** Hashing (3.3.4) of the Transformation (3.3.3) and Proof Configuration (3.3.5): the 64 bytes that are signed. */
export async function hashData(unsecuredDocument: JsonObject, proofConfig: JsonObject): Promise<Uint8Array<ArrayBuffer>> {
  const encoder = new TextEncoder();
  const [configHash, documentHash] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(canonicalize(proofConfig))),
    crypto.subtle.digest('SHA-256', encoder.encode(canonicalize(unsecuredDocument))),
  ]);
  const data = new Uint8Array(64);
  data.set(new Uint8Array(configHash), 0);
  data.set(new Uint8Array(documentHash), 32);
  return data;
}

// base58btc is the Bitcoin alphabet; multibase marks it with the prefix "z".
const base58btc = basex('123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz');

export function encodeMultibaseBase58btc(bytes: Uint8Array): string {
  return `z${base58btc.encode(bytes)}`;
}

/** The bytes of a "z..." multibase string, or undefined when it is not base58btc. */
export function decodeMultibaseBase58btc(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!text.startsWith('z')) return undefined;
  const bytes = base58btc.decodeUnsafe(text.slice(1));
  return bytes === undefined ? undefined : new Uint8Array(bytes);
}

// xsd:dateTime (XML Schema 1.1 part 2), which `created` must be (3.3.5 step 3).
const XSD_DATE_TIME =
  /^-?[0-9]{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)?$/;

export function isXsdDateTime(value: unknown): value is string {
  return typeof value === 'string' && XSD_DATE_TIME.test(value);
}

function optionsProblem(options: JsonObject): (ProofCheck & { verified: false }) | undefined {
  if (options.type !== PROOF_TYPE) return fail('wrong_proof_type', `proof type must be ${PROOF_TYPE}, got ${JSON.stringify(options.type)}`);
  if (options.cryptosuite !== CRYPTOSUITE) return fail('wrong_cryptosuite', `cryptosuite must be ${CRYPTOSUITE}, got ${JSON.stringify(options.cryptosuite)}`);
  if (options.created !== undefined && !isXsdDateTime(options.created)) {
    return fail('proof_created_invalid', `proof created must be an XML Schema dateTime, got ${JSON.stringify(options.created)}`);
  }
  return undefined;
}

function startsWithContext(documentContext: unknown, proofContext: unknown): boolean {
  const doc = Array.isArray(documentContext) ? documentContext : [documentContext];
  const proof = Array.isArray(proofContext) ? proofContext : [proofContext];
  return proof.length <= doc.length && proof.every((entry, i) => canonicalize(entry) === canonicalize(doc[i]));
}

function assertEd25519(key: CryptoKey, kind: 'public' | 'private'): void {
  if (key.algorithm.name !== 'Ed25519' || key.type !== kind) {
    throw new TypeError(`expected an Ed25519 ${kind} key, got a ${key.algorithm.name} ${key.type} key`);
  }
}

function fail(failure: ProofFailure, message: string): ProofCheck & { verified: false } {
  return { verified: false, failure, message };
}
