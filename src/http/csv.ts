/**
 * CSV exports (RFC 4180), safe to open in a spreadsheet whatever a thing's title holds.
 *
 * Every cell is quoted, so a `,` or `;` inside a cell never splits it for a reader that honours
 * quotes. A spreadsheet whose list separator is `;` (German and French locales) or one that splits
 * naively still sees each `;`- or `,`-separated part on its own, so each part that starts with a
 * formula trigger (`=`, `+`, `-`, `@`, tab or CR, after any spaces) is neutralised with a leading
 * `'`; plain numbers such as `-1.50` stay numbers. Written by hand: the CSV libraries at hand
 * quote but do not neutralise formulas part by part.
 */
export type CsvCell = string | number | bigint | null | undefined;

export function toCsv(header: string[], rows: CsvCell[][]): string {
  return `${[header, ...rows].map((row) => row.map(cell).join(',')).join('\r\n')}\r\n`;
}

/** A number as spreadsheets read one: an optional sign, digits, optional decimals. */
const PLAIN_NUMBER = /^[+-]?[0-9]+(\.[0-9]+)?$/;
/** A part a spreadsheet would evaluate: a trigger first, after any spaces. */
const FORMULA_START = /^ *[=+\-@\t\r]/;

/** The cell's text with each formula-looking part prefixed by `'`. */
export function neutralise(text: string): string {
  return text
    .split(/([;,])/)
    .map((part, i) => (i % 2 === 0 && FORMULA_START.test(part) && !PLAIN_NUMBER.test(part.replace(/^ +| +$/g, '')) ? `'${part}` : part))
    .join('');
}

function cell(value: CsvCell): string {
  const text = value === null || value === undefined ? '' : neutralise(String(value));
  return `"${text.replace(/"/g, '""')}"`;
}
