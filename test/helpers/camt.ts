/**
 * Bank statements for tests: small camt.053 files (001.02 or 001.08) written the way banks write
 * them, with the entries a scenario needs (credits with a structured or unstructured reference,
 * debits with an EndToEndId, pending entries, batches), and where the shared ISO 20022 files are.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/iso20022 when the worktree has it, else the repository's copy (no apt, no sibling). */
const SHARED = fileURLToPath(new URL('../../../shared/iso20022/', import.meta.url));
const REPO_XSD = fileURLToPath(new URL('../../src/banking/xsd/', import.meta.url));
export const SHARED_ISO20022 = existsSync(SHARED) ? SHARED : undefined;
export function xsdPath(name: string): string {
  return SHARED_ISO20022 && existsSync(`${SHARED_ISO20022}${name}.xsd`) ? `${SHARED_ISO20022}${name}.xsd` : `${REPO_XSD}${name}.xsd`;
}
export function samplePath(name: string): string | undefined {
  return SHARED_ISO20022 ? `${SHARED_ISO20022}samples/${name}` : undefined;
}

export const SAMPLE_IBAN = 'NL26VAYB8060476890';

export interface TestEntry {
  amount: string;
  direction?: 'CRDT' | 'DBIT';
  currency?: string;
  status?: 'BOOK' | 'PDNG' | 'INFO';
  acctSvcrRef?: string;
  ntryRef?: string;
  bookedOn?: string;
  /** CdtrRefInf/Ref */
  structured?: string;
  ustrd?: string[];
  endToEndIds?: string[];
  debtor?: string;
  reversal?: boolean;
  /** Transactions with their own amounts (a batch). */
  batch?: { amount: string; structured?: string; ustrd?: string; endToEndId?: string }[];
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function txDetails(version: '02' | '08', e: TestEntry): string {
  const party = (tag: string, name: string) =>
    version === '08' ? `<${tag}><Pty><Nm>${escapeXml(name)}</Nm></Pty></${tag}>` : `<${tag}><Nm>${escapeXml(name)}</Nm></${tag}>`;
  const rmt = (structured?: string, ustrd?: string[]) => {
    const parts = [...(ustrd ?? []).map((u) => `<Ustrd>${escapeXml(u)}</Ustrd>`)];
    if (structured)
      parts.push(`<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp><Ref>${escapeXml(structured)}</Ref></CdtrRefInf></Strd>`);
    return parts.length ? `<RmtInf>${parts.join('')}</RmtInf>` : '';
  };
  const refs = (ids?: string[]) => (ids?.length ? `<Refs><EndToEndId>${escapeXml(ids[0] as string)}</EndToEndId></Refs>` : '');
  const amt = (amount: string) =>
    version === '08'
      ? `<Amt Ccy="${e.currency ?? 'EUR'}">${amount}</Amt>`
      : `<AmtDtls><TxAmt><Amt Ccy="${e.currency ?? 'EUR'}">${amount}</Amt></TxAmt></AmtDtls>`;
  const parties = e.debtor ? `<RltdPties>${party(e.direction === 'DBIT' ? 'Cdtr' : 'Dbtr', e.debtor)}</RltdPties>` : '';
  if (e.batch) {
    return e.batch
      .map(
        (b) =>
          `<TxDtls>${refs(b.endToEndId ? [b.endToEndId] : undefined)}${amt(b.amount)}${parties}${rmt(b.structured, b.ustrd ? [b.ustrd] : undefined)}</TxDtls>`,
      )
      .join('');
  }
  const ids = e.endToEndIds ?? [];
  if (ids.length > 1) return ids.map((id) => `<TxDtls>${refs([id])}</TxDtls>`).join('');
  return `<TxDtls>${refs(ids)}${parties}${rmt(e.structured, e.ustrd)}</TxDtls>`;
}

function entry(version: '02' | '08', e: TestEntry): string {
  const status = version === '08' ? `<Sts><Cd>${e.status ?? 'BOOK'}</Cd></Sts>` : `<Sts>${e.status ?? 'BOOK'}</Sts>`;
  const bkTxCd = '<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>';
  return `<Ntry>
${e.ntryRef ? `<NtryRef>${escapeXml(e.ntryRef)}</NtryRef>` : ''}<Amt Ccy="${e.currency ?? 'EUR'}">${e.amount}</Amt><CdtDbtInd>${e.direction ?? 'CRDT'}</CdtDbtInd>${e.reversal ? '<RvslInd>true</RvslInd>' : ''}${status}
<BookgDt><Dt>${e.bookedOn ?? '2026-11-09'}</Dt></BookgDt><ValDt><Dt>${e.bookedOn ?? '2026-11-09'}</Dt></ValDt>${e.acctSvcrRef ? `<AcctSvcrRef>${escapeXml(e.acctSvcrRef)}</AcctSvcrRef>` : ''}${bkTxCd}
<NtryDtls>${txDetails(version, e)}</NtryDtls>
</Ntry>`;
}

/** A camt.053 file with one statement of `iban` holding `entries`. */
export function camt053(
  entries: TestEntry[],
  options: { version?: '02' | '08'; iban?: string; accountCurrency?: string | null; statementId?: string; messageId?: string } = {},
): string {
  const version = options.version ?? '02';
  const iban = options.iban ?? SAMPLE_IBAN;
  const ccy = options.accountCurrency === null ? '' : `<Ccy>${options.accountCurrency ?? 'EUR'}</Ccy>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.${version}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<BkToCstmrStmt>
<GrpHdr><MsgId>${options.messageId ?? 'MSG-TEST-1'}</MsgId><CreDtTm>2026-11-10T08:00:00+01:00</CreDtTm></GrpHdr>
<Stmt>
<Id>${options.statementId ?? 'STMT-TEST-1'}</Id>
<CreDtTm>2026-11-10T08:00:00+01:00</CreDtTm>
<Acct><Id><IBAN>${iban}</IBAN></Id>${ccy}</Acct>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-09</Dt></Dt></Bal>
${entries.map((e) => entry(version, e)).join('\n')}
</Stmt>
</BkToCstmrStmt>
</Document>
`;
}
