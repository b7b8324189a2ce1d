import fc from 'fast-check';
import t from 'tap';
import { canonicalize } from '../../src/settlement/canonical.ts';
import { createProof, decodeMultibaseBase58btc, encodeMultibaseBase58btc, hashData, verifyProof } from '../../src/settlement/eddsa-jcs-2022.ts';

/*
 * The known answer: "Representation: eddsa-jcs-2022" of the W3C Recommendation Data Integrity
 * EdDSA Cryptosuites v1.0, i.e. the files TestVectors/keyPair.json, TestVectors/unsigned.json
 * and TestVectors/eddsa-jcs-2022/* of github.com/w3c/vc-di-eddsa (commit abb673eb, May 2025).
 * Ed25519 signatures are deterministic, so signing with the published key must give the
 * published proofValue byte for byte.
 */
const KEY_PAIR = {
  publicKeyMultibase: 'z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2',
  privateKeyMultibase: 'z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq',
};
const UNSIGNED = {
  '@context': ['https://www.w3.org/ns/credentials/v2', 'https://www.w3.org/ns/credentials/examples/v2'],
  id: 'urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33',
  type: ['VerifiableCredential', 'AlumniCredential'],
  name: 'Alumni Credential',
  description: 'A minimum viable example of an Alumni Credential.',
  issuer: 'https://vc.example/issuers/5678',
  validFrom: '2023-01-01T00:00:00Z',
  credentialSubject: { id: 'did:example:abcdefgh', alumniOf: 'The School of Examples' },
};
const PROOF_OPTIONS = {
  type: 'DataIntegrityProof',
  cryptosuite: 'eddsa-jcs-2022',
  created: '2023-02-24T23:36:38Z',
  verificationMethod: 'did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2',
  proofPurpose: 'assertionMethod',
};
const CANON_DOC =
  '{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/examples/v2"],"credentialSubject":{"alumniOf":"The School of Examples","id":"did:example:abcdefgh"},"description":"A minimum viable example of an Alumni Credential.","id":"urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33","issuer":"https://vc.example/issuers/5678","name":"Alumni Credential","type":["VerifiableCredential","AlumniCredential"],"validFrom":"2023-01-01T00:00:00Z"}';
const CANON_PROOF_CONFIG =
  '{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/examples/v2"],"created":"2023-02-24T23:36:38Z","cryptosuite":"eddsa-jcs-2022","proofPurpose":"assertionMethod","type":"DataIntegrityProof","verificationMethod":"did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}';
const PROOF_HASH_HEX = '66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db';
const DOC_HASH_HEX = '59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19';
const SIGNATURE_HEX = '407cd12654b33d718ecbb99179a1506daaa849450bf3fc523cce3e1c96f8b80351da3f253d725c6f00b07c9e5448d50b3ef78012b9ab54255116d069c6dd2808';
const PROOF_VALUE = 'z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** did:key multikeys: 0xed01 + 32-byte public key, 0x8026 + 32-byte seed (multicodec varints). */
async function importVectorKeys(): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
  const pub = decodeMultibaseBase58btc(KEY_PAIR.publicKeyMultibase) as Uint8Array<ArrayBuffer>;
  const priv = decodeMultibaseBase58btc(KEY_PAIR.privateKeyMultibase) as Uint8Array<ArrayBuffer>;
  if (hex(pub.slice(0, 2)) !== 'ed01' || hex(priv.slice(0, 2)) !== '8026') throw new Error('unexpected multicodec prefixes');
  const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  const privateKey = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', d: b64url(priv.slice(2)), x: b64url(pub.slice(2)) }, 'Ed25519', false, [
    'sign',
  ]);
  const publicKey = await crypto.subtle.importKey('raw', pub.slice(2), 'Ed25519', false, ['verify']);
  return { privateKey, publicKey };
}

t.test('eddsa-jcs-2022 reproduces the W3C test vector byte for byte', async (t) => {
  const { privateKey, publicKey } = await importVectorKeys();
  t.equal(canonicalize(UNSIGNED), CANON_DOC, 'canonical document');
  t.equal(canonicalize({ ...PROOF_OPTIONS, '@context': UNSIGNED['@context'] }), CANON_PROOF_CONFIG, 'canonical proof configuration');

  const proof = await createProof(UNSIGNED, PROOF_OPTIONS, privateKey);
  t.same(proof['@context'], UNSIGNED['@context'], "the proof carries the document's @context (Create Proof step 2)");
  const { proofValue, ...config } = proof;
  t.equal(hex(await hashData(UNSIGNED, config)), PROOF_HASH_HEX + DOC_HASH_HEX, 'hashData = SHA-256(config) || SHA-256(document)');
  t.equal(hex(decodeMultibaseBase58btc(proofValue) as Uint8Array), SIGNATURE_HEX, 'signature');
  t.equal(proofValue, PROOF_VALUE, 'proofValue');

  // signedJCS.json as published, property order and all
  const published = { ...UNSIGNED, proof: { ...PROOF_OPTIONS, '@context': UNSIGNED['@context'], proofValue: PROOF_VALUE } };
  t.same(await verifyProof(published, publicKey), { verified: true });
  t.same(await verifyProof(JSON.parse(JSON.stringify(published)), publicKey), { verified: true }, 'after a JSON round trip');
});

t.test('eddsa-jcs-2022 verification refuses what was not signed', async (t) => {
  const { publicKey } = await importVectorKeys();
  const signed = { ...UNSIGNED, proof: { ...PROOF_OPTIONS, '@context': UNSIGNED['@context'], proofValue: PROOF_VALUE } };
  const failure = async (doc: Record<string, unknown>): Promise<string | undefined> => {
    const check = await verifyProof(doc, publicKey);
    return check.verified ? undefined : check.failure;
  };
  t.equal(await failure({ ...signed, name: 'Alumni Credential!' }), 'signature_invalid', 'document changed');
  t.equal(await failure({ ...signed, extra: true }), 'signature_invalid', 'property added');
  t.equal(await failure({ ...signed, proof: { ...signed.proof, created: '2023-02-24T23:36:39Z' } }), 'signature_invalid', 'proof options changed');
  t.equal(await failure({ ...signed, proof: { ...signed.proof, cryptosuite: 'eddsa-rdfc-2022' } }), 'wrong_cryptosuite');
  t.equal(await failure({ ...signed, proof: { ...signed.proof, type: 'Ed25519Signature2020' } }), 'wrong_proof_type');
  t.equal(await failure({ ...signed, proof: { ...signed.proof, created: 'yesterday' } }), 'proof_created_invalid');
  t.equal(await failure({ ...signed, proof: { ...signed.proof, proofValue: PROOF_VALUE.slice(1) } }), 'proof_value_malformed', 'no multibase prefix');
  t.equal(await failure({ ...signed, proof: { ...signed.proof, proofValue: 'z0OIl' } }), 'proof_value_malformed', 'not base58');
  t.equal(await failure({ ...signed, proof: { ...signed.proof, proofValue: PROOF_VALUE.slice(0, -4) } }), 'proof_value_malformed', 'too short');
  t.equal(await failure({ ...signed, '@context': ['https://www.w3.org/ns/credentials/v2'] }), 'proof_context_mismatch');
  t.equal(await failure(UNSIGNED), 'proof_value_malformed', 'no proof at all');
  const other = await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']);
  t.match(await verifyProof(signed, other.publicKey), { verified: false, failure: 'signature_invalid' }, 'another key');
});

t.test('base58btc multibase', async (t) => {
  // The example of draft-msporny-base58.
  t.equal(encodeMultibaseBase58btc(new TextEncoder().encode('Hello World!')), 'z2NEpo7TZRRrLZSi2U');
  t.equal(encodeMultibaseBase58btc(new Uint8Array([0, 0, 1])), 'z112', 'each leading zero byte is a "1"');
  t.equal(encodeMultibaseBase58btc(new Uint8Array()), 'z');
  t.equal(decodeMultibaseBase58btc('m' + 'AAAA'), undefined, 'another multibase is refused');
  t.equal(decodeMultibaseBase58btc('zl'), undefined, 'l is not in the alphabet');
  // An independent reference: the bytes as one big number written in base 58.
  const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  const reference = (bytes: Uint8Array): string => {
    let n = BigInt(`0x0${hex(bytes)}`);
    let digits = '';
    while (n > 0n) {
      digits = ALPHABET[Number(n % 58n)] + digits;
      n /= 58n;
    }
    const zeros = bytes.findIndex((b) => b !== 0);
    return `z${'1'.repeat(zeros === -1 ? bytes.length : zeros)}${digits}`;
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const text = encodeMultibaseBase58btc(bytes);
      return text === reference(bytes) && hex(decodeMultibaseBase58btc(text) as Uint8Array) === hex(bytes);
    }),
  );
});

t.test('createProof refuses what the suite does not cover', async (t) => {
  const { privateKey, publicKey } = await importVectorKeys();
  await t.rejects(createProof(UNSIGNED, { ...PROOF_OPTIONS, cryptosuite: 'ecdsa-jcs-2019' }, privateKey), TypeError);
  await t.rejects(createProof({ ...UNSIGNED, proof: {} }, PROOF_OPTIONS, privateKey), TypeError, 'already has a proof');
  await t.rejects(createProof(UNSIGNED, PROOF_OPTIONS, publicKey), TypeError, 'a public key cannot sign');
  await t.rejects(createProof({ ...UNSIGNED, amount: 0.1 }, PROOF_OPTIONS, privateKey), /only safe integers/);
});
