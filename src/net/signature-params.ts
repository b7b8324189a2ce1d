/**
 * Refuses HTTP signature headers that name a parameter twice. Parsers disagree on which copy
 * counts: Fedify's draft-cavage parser keeps the last `keyId`, a regular expression the first,
 * a structured-field parser the last label. A request whose checks and whose verification may
 * read different keys is refused before either runs (issue 12).
 *
 * Written by hand: no library in the tree parses both the draft-cavage `Signature` header and
 * RFC 9421's `Signature-Input`/`Signature` dictionaries, and what matters here is only to find
 * repeated names, counted conservatively (a name after any comma counts, quoted or not).
 */

/** The first repeated parameter ("Signature: keyId"), or null when every name appears once. */
export function repeatedSignatureParameter(headers: Headers): string | null {
  const signature = headers.get('signature');
  if (signature !== null) {
    const repeated = firstRepeat(memberNames(signature));
    if (repeated) return `Signature: ${repeated}`;
  }
  const input = headers.get('signature-input');
  if (input !== null) {
    const repeated = firstRepeat(memberNames(input));
    if (repeated) return `Signature-Input: ${repeated}`;
    // Parameters of one signature: `sig1=("@method" ...);keyid="...";alg="...";keyid="..."`.
    for (const member of input.split(',')) {
      const params = [...member.matchAll(/;\s*([A-Za-z*][A-Za-z0-9_.*-]*)/g)].map((m) => m[1]!);
      const repeatedParam = firstRepeat(params);
      if (repeatedParam) return `Signature-Input: ${repeatedParam}`;
    }
  }
  return null;
}

/** The names before "=" at the start of the header and after every comma. */
function memberNames(header: string): string[] {
  return [...header.matchAll(/(?:^|,)\s*([A-Za-z*][A-Za-z0-9_.*-]*)\s*=/g)].map((m) => m[1]!);
}

function firstRepeat(names: string[]): string | null {
  const seen = new Set<string>();
  for (const name of names) {
    const key = name.toLowerCase();
    if (seen.has(key)) return name;
    seen.add(key);
  }
  return null;
}
