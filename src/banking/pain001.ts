/**
 * Writing a SEPA credit transfer initiation (ISO 20022 pain.001.001.03, or .09) for a batch of
 * payouts: one payment information block debiting the instance's account, one transaction per
 * payout with its EndToEndId (which the bank's statement later shows on the debit, so the import
 * marks the payout paid). Pure: the same batch always gives the same bytes.
 *
 * Written as a template rather than with an XML builder: the document is a fixed shape of some
 * twenty elements, every value is escaped here and converted to the SEPA character set, and the
 * suite validates the output against the XSD with xmllint.
 */
import { formatAmount } from '../core/money.ts';
import { sepaText } from './sepa-text.ts';

export type PainVersion = '001.001.03' | '001.001.09';

export interface SepaTransfer {
  endToEndId: string;
  amount: bigint;
  iban: string;
  holder: string;
  /** What the payee's bank statement shows. */
  remittance: string;
}

export interface SepaBatch {
  version: PainVersion;
  messageId: string;
  createdAt: Date;
  /** Execution date, YYYY-MM-DD. */
  executionDate: string;
  debtor: { name: string; iban: string; bic: string | undefined };
  transfers: SepaTransfer[];
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** ISODateTime without fractions, in UTC. */
function isoDateTime(date: Date): string {
  return date.toISOString().replace(/\.[0-9]{3}Z$/, 'Z');
}

export function buildPain001(batch: SepaBatch): string {
  if (batch.transfers.length === 0) throw new RangeError('a pain.001 file has at least one transfer');
  const v09 = batch.version === '001.001.09';
  const total = batch.transfers.reduce((sum, t) => sum + t.amount, 0n);
  const count = batch.transfers.length;
  const e = (text: string, max: number) => escapeXml(sepaText(text, max));
  const bicTag = v09 ? 'BICFI' : 'BIC';
  const agent = batch.debtor.bic ? `<${bicTag}>${escapeXml(batch.debtor.bic)}</${bicTag}>` : '<Othr><Id>NOTPROVIDED</Id></Othr>';
  const executionDate = v09 ? `<ReqdExctnDt><Dt>${batch.executionDate}</Dt></ReqdExctnDt>` : `<ReqdExctnDt>${batch.executionDate}</ReqdExctnDt>`;
  const transfers = batch.transfers
    .map(
      (t) => `      <CdtTrfTxInf>
        <PmtId><EndToEndId>${escapeXml(t.endToEndId)}</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="EUR">${formatAmount(t.amount)}</InstdAmt></Amt>
        <Cdtr><Nm>${e(t.holder, 70)}</Nm></Cdtr>
        <CdtrAcct><Id><IBAN>${escapeXml(t.iban)}</IBAN></Id></CdtrAcct>
        <RmtInf><Ustrd>${e(t.remittance, 140)}</Ustrd></RmtInf>
      </CdtTrfTxInf>
`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.${batch.version}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>${escapeXml(batch.messageId)}</MsgId>
      <CreDtTm>${isoDateTime(batch.createdAt)}</CreDtTm>
      <NbOfTxs>${count}</NbOfTxs>
      <CtrlSum>${formatAmount(total)}</CtrlSum>
      <InitgPty><Nm>${e(batch.debtor.name, 70)}</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>${escapeXml(batch.messageId)}</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <BtchBookg>false</BtchBookg>
      <NbOfTxs>${count}</NbOfTxs>
      <CtrlSum>${formatAmount(total)}</CtrlSum>
      <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf>
      ${executionDate}
      <Dbtr><Nm>${e(batch.debtor.name, 70)}</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>${escapeXml(batch.debtor.iban)}</IBAN></Id></DbtrAcct>
      <DbtrAgt><FinInstnId>${agent}</FinInstnId></DbtrAgt>
      <ChrgBr>SLEV</ChrgBr>
${transfers}    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
`;
}
