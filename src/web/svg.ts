/**
 * Pictures drawn on the server as SVG, so they need no script: the seeds' example on the front
 * page, the creator's twelve-month earnings chart and the embeddable badge. Presentation
 * attributes only (no style attributes), which the pages' CSP allows.
 */
import { type Html, html } from './html.ts';

export interface SeedsFigures {
  budget: string;
  count: number;
  /** What each creator receives, after the fee. */
  net: string;
  /** What the instance keeps: the fees of all the shares. */
  instance: string;
  feePercent: string;
  currency: string;
}

export function seedsPicture(f: SeedsFigures): Html {
  // The budget on top, one string down to the flattrs threaded on it like beads, the fee below.
  const columns = [48, 144, 240, 336, 432];
  const coins = Array.from({ length: f.count }, (_, i) => ({ x: columns[i % 5] as number, y: i < 5 ? 135 : 215 }));
  return html`<svg viewBox="0 0 480 340" role="img" aria-labelledby="seeds-title seeds-desc" xmlns="http://www.w3.org/2000/svg">
<title id="seeds-title">A budget of ${f.budget} split among ${f.count} flattrs</title>
<desc id="seeds-desc">A monthly budget of ${f.budget} ${f.currency} and ${f.count} things flattred: each creator receives ${f.net}, and the instance keeps ${f.instance} (a ${f.feePercent}% fee).</desc>
<rect x="130" y="4" width="220" height="68" rx="8" fill="#7a3e00"/>
<text x="240" y="30" font-size="16" text-anchor="middle" fill="#ffffff">Your month's budget</text>
<text x="240" y="60" font-size="24" font-weight="bold" text-anchor="middle" fill="#ffffff">${f.budget} ${f.currency}</text>
<g stroke="#8c8378" stroke-width="2">
<line x1="240" y1="72" x2="240" y2="92"/>
<line x1="${columns[0]}" y1="92" x2="${columns[4]}" y2="92"/>
${columns.map((x) => html`<line x1="${x}" y1="92" x2="${x}" y2="${f.count > 5 ? 215 : 135}"/>`)}
</g>
${coins.map((c) => html`<circle cx="${c.x}" cy="${c.y}" r="34" fill="#f4efe4" stroke="#7a3e00" stroke-width="3"/><text x="${c.x}" y="${c.y + 7}" font-size="19" font-weight="bold" text-anchor="middle" fill="#1d1b18">${f.net}</text>`)}
<text x="240" y="276" font-size="17" text-anchor="middle" fill="#1d1b18">${f.count} things flattred: ${f.net} to each creator</text>
<rect x="50" y="290" width="380" height="46" rx="6" fill="#1d1b18"/>
<text x="240" y="319" font-size="17" text-anchor="middle" fill="#ffffff">The instance keeps ${f.instance} (${f.feePercent}% fee)</text>
</svg>`;
}

export interface Bar {
  /** The period, YYYY-MM. */
  period: string;
  micros: bigint;
  /** The amount as shown, "0.45". */
  amount: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Vertical bars, one per month, scaled to the largest; the page puts the same figures in a table. */
export function earningsChart(bars: Bar[], currency: string): Html {
  const width = 640;
  const top = 30;
  const bottom = 214;
  const slot = (width - 20) / Math.max(bars.length, 1);
  const max = bars.reduce((m, b) => (b.micros > m ? b.micros : m), 0n);
  const heightOf = (micros: bigint) => (max === 0n ? 0 : Number((micros * BigInt(bottom - top)) / max));
  const first = bars[0]?.period ?? '';
  const last = bars[bars.length - 1]?.period ?? '';
  return html`<svg viewBox="0 0 ${width} 262" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">
<title id="chart-title">Earnings per month in ${currency}, ${first} to ${last}</title>
<line x1="10" y1="${bottom}" x2="${width - 10}" y2="${bottom}" stroke="#55504a" stroke-width="1"/>
${bars.map((b, i) => {
  const h = heightOf(b.micros);
  const x = 10 + i * slot + slot * 0.15;
  const month = Number(b.period.slice(5, 7));
  const showYear = i === 0 || month === 1;
  return html`<g>
<rect x="${x.toFixed(1)}" y="${bottom - h}" width="${(slot * 0.7).toFixed(1)}" height="${h}" fill="#7a3e00"/>
${b.micros > 0n ? html`<text x="${(x + slot * 0.35).toFixed(1)}" y="${bottom - h - 7}" font-size="16" text-anchor="middle" fill="#1d1b18">${b.amount}</text>` : ''}
<text x="${(x + slot * 0.35).toFixed(1)}" y="${bottom + 22}" font-size="17" text-anchor="middle" fill="#1d1b18">${MONTHS[month - 1]}</text>
${showYear ? html`<text x="${(x + slot * 0.35).toFixed(1)}" y="${bottom + 43}" font-size="15" text-anchor="middle" fill="#55504a">${b.period.slice(0, 4)}</text>` : ''}
</g>`;
})}
</svg>`;
}

/** The embeddable badge: "flattr | 12", about 7 px per character of DejaVu/Verdana at 11 px. */
export function badge(count: number): Html {
  const label = 'flattr';
  const value = String(count);
  const left = 10 + label.length * 7;
  const right = 12 + value.length * 7.5;
  const width = left + right;
  return html`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" viewBox="0 0 ${width} 20" role="img" aria-label="${label}: ${value}">
<title>${label}: ${value}</title>
<rect width="${width}" height="20" rx="3" fill="#1d1b18"/>
<rect width="${left}" height="20" rx="3" fill="#7a3e00"/>
<rect x="${left - 3}" width="3" height="20" fill="#7a3e00"/>
<g fill="#ffffff" font-family="Verdana, DejaVu Sans, sans-serif" font-size="11" text-anchor="middle">
<text x="${left / 2}" y="14">${label}</text>
<text x="${left + right / 2}" y="14">${value}</text>
</g>
</svg>
`;
}
