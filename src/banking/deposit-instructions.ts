/**
 * What a member needs to fund their wallet by bank transfer: the instance's account, their
 * permanent reference, and the same as an EPC QR code a banking app scans. Without the instance's
 * bank details (FARTHING_BANK_*) the account fields are null: deposits are arranged with the admin.
 */
import type { Caller, Context } from '../context.ts';
import { parsePositiveAmount } from '../core/money.ts';
import { epcPayload, qrSvg } from './epc-qr.ts';
import { memberReference } from './references.ts';

export interface DepositInstructions {
  iban: string | null;
  bic: string | null;
  holder: string | null;
  /** The member's transfer reference (ISO 11649, electronic format). */
  reference: string;
  currency: string;
  amount: string | null;
  /** The EPC QR payload and its SVG: null without bank details, or in a currency other than EUR (the standard is for euros). */
  epc_payload: string | null;
  qr_svg: string | null;
}

export async function depositInstructions(ctx: Context, caller: Caller, amountInput?: unknown): Promise<DepositInstructions> {
  const amount = amountInput === undefined || amountInput === '' ? undefined : parsePositiveAmount(amountInput);
  const reference = await memberReference(ctx.db, caller.id, ctx.clock.now());
  const bank = ctx.config.bank;
  const currency = ctx.config.currency;
  let payload: string | null = null;
  if (bank && currency === 'EUR') {
    payload = epcPayload({ name: bank.holder, iban: bank.iban, bic: bank.bic, amount, reference });
  }
  return {
    iban: bank?.iban ?? null,
    bic: bank?.bic ?? null,
    holder: bank?.holder ?? null,
    reference,
    currency,
    amount: typeof amountInput === 'string' && amount !== undefined ? amountInput : null,
    epc_payload: payload,
    qr_svg: payload ? await qrSvg(payload) : null,
  };
}
