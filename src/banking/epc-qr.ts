/**
 * The EPC QR code ("GiroCode", EPC069-12 version 002): the lines a European banking app reads to
 * fill in a SEPA credit transfer (beneficiary, IBAN, amount, structured reference), drawn as an
 * inline SVG with error correction M as the standard asks.
 *
 * The payload is built by hand: it is twelve lines of text, and no maintained library writes
 * them (qrcode draws the symbol).
 */
import QRCode from 'qrcode';
import { AppError } from '../core/errors.ts';
import { formatAmount, MICROS_PER_UNIT } from '../core/money.ts';

/** EPC069-12: the payload is at most 331 bytes. */
const MAX_PAYLOAD_BYTES = 331;
/** EPC069-12: amounts from EUR 0.01 to EUR 999999999.99. */
const MAX_EPC_AMOUNT_MICROS = 999_999_999_990_000n;
const CENT_MICROS = MICROS_PER_UNIT / 100n;

export interface EpcTransfer {
  /** The beneficiary's name, at most 70 characters. */
  name: string;
  iban: string;
  /** Optional within the EEA since version 002. */
  bic?: string | undefined;
  /** In micro-units; whole cents only. Omitted: the payer types the amount. */
  amount?: bigint | undefined;
  /** An ISO 11649 creditor reference (electronic format). */
  reference: string;
}

/**
 * The payload, lines separated by LF: BCD / 002 / 1 (UTF-8) / SCT / BIC / name / IBAN /
 * EUR amount / purpose / structured reference / unstructured text / information (trailing
 * empty lines left out, as the standard allows).
 */
export function epcPayload(transfer: EpcTransfer): string {
  if (transfer.name.length === 0 || transfer.name.length > 70) throw new RangeError('the beneficiary name is 1 to 70 characters');
  if (transfer.reference.length > 35) throw new RangeError('a structured reference is at most 35 characters');
  let amount = '';
  if (transfer.amount !== undefined) {
    if (transfer.amount < CENT_MICROS || transfer.amount > MAX_EPC_AMOUNT_MICROS || transfer.amount % CENT_MICROS !== 0n) {
      throw new AppError('invalid_amount', 'a transfer amount is whole cents from 0.01 to 999999999.99', { field: 'amount' });
    }
    amount = `EUR${formatAmount(transfer.amount)}`;
  }
  const lines = ['BCD', '002', '1', 'SCT', transfer.bic ?? '', transfer.name, transfer.iban, amount, '', transfer.reference];
  const payload = lines.join('\n');
  if (Buffer.byteLength(payload, 'utf8') > MAX_PAYLOAD_BYTES) throw new RangeError('the EPC QR payload is longer than 331 bytes');
  return payload;
}

/** The QR code of a payload as an SVG element (no XML declaration), for inline use in a page. */
export async function qrSvg(payload: string): Promise<string> {
  const svg = await QRCode.toString(payload, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  return svg.replace(/^<\?xml[^>]*>\s*/, '').trim();
}
