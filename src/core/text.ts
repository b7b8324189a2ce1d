/**
 * What makes a string acceptable text in a request: no control character (C0, DEL, C1) and no
 * lone UTF-16 surrogate; tab, CR and LF only where a field holds lines. The input guard
 * (src/http/input-guard.ts) refuses every request part with it, and the shared input schemas'
 * rules (src/core/input.ts) check their field with it before they tidy the text, so a refusal
 * reads the same whichever finds it first.
 */

/** C0 controls, DEL and C1 controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the guard looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The same without tab, CR and LF. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the guard looks for
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** What is wrong with a string, or undefined when it is acceptable text. */
export function textProblem(value: string, multiline = false): string | undefined {
  if (!value.isWellFormed()) return 'contains a lone UTF-16 surrogate (not text)';
  const match = (multiline ? CONTROL_BUT_LINES : CONTROL).exec(value);
  if (match) return `contains the control character U+${(match[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`;
  return undefined;
}
