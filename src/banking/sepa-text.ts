/**
 * The SEPA character set. Every SEPA bank must accept the basic Latin set (a–z, A–Z, 0–9 and
 * / - ? : ( ) . , ' + space); other characters may be refused or mangled on the way, so names and
 * texts written into a pain.001 file are converted first: accents dropped ("Müller" → "Muller"),
 * a few letters spelled out ("ß" → "ss"), anything else a space.
 *
 * Written by hand: the EPC's conversion table is a handful of rules, and Unicode normalization
 * (NFKD) in the runtime does the accents.
 */
const SPELLED: Record<string, string> = {
  ß: 'ss',
  Æ: 'AE',
  æ: 'ae',
  Ø: 'O',
  ø: 'o',
  Œ: 'OE',
  œ: 'oe',
  Đ: 'D',
  đ: 'd',
  Ł: 'L',
  ł: 'l',
  Þ: 'TH',
  þ: 'th',
  '&': '+',
  _: '-',
};

export function sepaText(text: string, maxLength: number): string {
  const spelled = [...text].map((c) => SPELLED[c] ?? c).join('');
  const plain = spelled.normalize('NFKD').replace(/\p{M}+/gu, '');
  const allowed = plain
    .replace(/[^A-Za-z0-9/\-?:().,'+ ]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return allowed.slice(0, maxLength).trim() || 'NOTPROVIDED';
}

/** Whether a text is already in the SEPA set (identifiers we make must be). */
export function isSepaText(text: string): boolean {
  return /^[A-Za-z0-9/\-?:().,'+ ]*$/.test(text);
}
