/**
 * Reading a bank's account statement (ISO 20022 camt.053, versions 001.02 and 001.08) into the
 * few facts an import needs: whose account, which entries, for each its amount (exact, in
 * micro-units), direction, status and the references a payer or our payout file put on it.
 *
 * The file is checked before anything is recorded: UTF-8, no DOCTYPE (statements never have one,
 * and it is how entity expansion attacks start), a camt.053 namespace this instance knows,
 * well-formed, and valid against its XSD.
 * Each refusal is an AppError whose code and message name the problem. Amounts are the decimal
 * strings of the file parsed by src/core/money.ts, never floats.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AppError } from '../core/errors.ts';
import { parseAmount } from '../core/money.ts';
import { type SchemaName, schemaProblems } from './xsd.ts';

/** Bigger statements are refused before anything is read (a year of a busy association is far less). */
export const MAX_STATEMENT_BYTES = 10 * 1024 * 1024;
export const MAX_STATEMENT_ENTRIES = 20_000;

export type CamtVersion = '001.02' | '001.08';

export interface CamtTransaction {
  /** Set when the transaction states its own amount (TxDtls/Amt or AmtDtls/TxAmt/Amt). */
  amount: { value: string; currency: string } | null;
  endToEndIds: string[];
  /** Bank and payer identifiers that make the fingerprint of an entry without AcctSvcrRef. */
  ids: string[];
  structuredRefs: string[];
  unstructured: string[];
  counterpartyName: string | null;
  counterpartyIban: string | null;
}

export interface CamtEntry {
  /** Position in the file, from 1, for messages. */
  n: number;
  amount: bigint;
  currency: string;
  direction: 'credit' | 'debit';
  status: string;
  reversal: boolean;
  bookedOn: string | null;
  valueOn: string | null;
  acctSvcrRef: string | null;
  ntryRef: string | null;
  transactions: CamtTransaction[];
}

export interface CamtStatement {
  id: string;
  /** The account as the statement names it: its IBAN, or the other identifier given instead. */
  account: string;
  currency: string | null;
  entries: CamtEntry[];
}

export interface CamtDocument {
  version: CamtVersion;
  messageId: string;
  statements: CamtStatement[];
}

const NAMESPACE = /urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.[0-9]{3}\.[0-9]{3}\.[0-9]{2})/;
const ARRAYS = new Set(['Stmt', 'Ntry', 'NtryDtls', 'TxDtls', 'Ustrd', 'Strd', 'Bal', 'Othr']);

/** Bytes as UTF-8 text, or `statement_malformed`. */
export function statementText(bytes: Uint8Array): string {
  if (bytes.byteLength === 0) throw new AppError('statement_malformed', 'the file is empty: send a camt.053 statement');
  if (bytes.byteLength > MAX_STATEMENT_BYTES) throw new AppError('payload_too_large', `a statement file is at most ${MAX_STATEMENT_BYTES / 1024 / 1024} MiB`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new AppError('statement_malformed', 'the file is not UTF-8 text: export the statement as camt.053 XML');
  }
}

/**
 * Reads a camt.053 file after the cheap checks (no DOCTYPE, a known namespace, well-formed XML);
 * the schema is checked separately (checkCamt053Schema), after the caller has refused what it
 * can refuse without libxml2. Refusals are AppErrors naming the problem.
 */
export function parseCamt053(xml: string): CamtDocument {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new AppError('statement_malformed', 'the file has a DOCTYPE or ENTITY declaration; bank statements have none, and it is refused');
  }
  const root = /<(?:[A-Za-z_][\w.-]*:)?Document\b[^>]*>/.exec(xml);
  if (!root) {
    const start = xml.trimStart().slice(0, 1);
    throw new AppError(
      start === '<' ? 'statement_unsupported' : 'statement_malformed',
      start === '<' ? 'the file is XML but not an ISO 20022 Document: send a camt.053 statement' : 'the file is not XML: send a camt.053 statement',
    );
  }
  const message = NAMESPACE.exec(root[0])?.[1];
  if (message !== 'camt.053.001.02' && message !== 'camt.053.001.08') {
    throw new AppError(
      'statement_unsupported',
      message
        ? `the file is ${message}; this instance reads bank statements in camt.053.001.02 or camt.053.001.08`
        : 'the Document has no ISO 20022 namespace; this instance reads camt.053.001.02 or camt.053.001.08',
    );
  }
  const wellFormed = XMLValidator.validate(xml);
  if (wellFormed !== true) {
    throw new AppError('statement_malformed', `the file is not well-formed XML (line ${wellFormed.err.line}): ${wellFormed.err.msg}`.slice(0, 500));
  }
  return readValid(xml, message.slice('camt.053.'.length) as CamtVersion);
}

/** The file against its version's XSD (libxml2): `statement_schema_invalid` with the first problem. */
export async function checkCamt053Schema(xml: string, version: CamtVersion): Promise<void> {
  const schema = `camt.053.${version}` as SchemaName;
  const problems = await schemaProblems(xml, schema);
  const first = problems[0];
  if (!first) return;
  const where = first.line ? ` (line ${first.line})` : '';
  if (first.kind === 'parser') throw new AppError('statement_malformed', `the file is not well-formed XML${where}: ${first.message}`.slice(0, 500));
  throw new AppError('statement_schema_invalid', `the file does not follow the ${schema} schema${where}: ${first.message}`.slice(0, 500), {
    problems: problems.length,
  });
}

type Node = Record<string, unknown>;

function child(node: unknown, ...path: string[]): unknown {
  let value = node;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Node)[key];
    if (Array.isArray(value)) value = value[0];
  }
  return value;
}

function list(node: unknown, key: string): unknown[] {
  if (node === null || typeof node !== 'object') return [];
  const value = (node as Node)[key];
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function text(node: unknown, ...path: string[]): string | null {
  const value = child(node, ...path);
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as Node)['#text'] === 'string') return (value as Node)['#text'] as string;
  return null;
}

/** An amount element (`<Amt Ccy="EUR">8.85</Amt>`) as its decimal text and currency. */
function amountOf(node: unknown): { value: string; currency: string } | null {
  const value = text(node);
  const currency = node !== null && typeof node === 'object' ? (node as Node)['@Ccy'] : undefined;
  return value !== null && typeof currency === 'string' ? { value, currency } : null;
}

/** xs:decimal as the schema allows it ("+08.50", "8.", ".5") → what money.ts parses ("8.50"). */
export function parseStatementAmount(value: string, where: string): bigint {
  const match = /^\+?([0-9]*)(?:\.([0-9]*))?$/.exec(value.trim());
  if (!match || (match[1] === '' && (match[2] ?? '') === '')) {
    throw new AppError('statement_schema_invalid', `${where}: the amount "${value.slice(0, 30)}" is not a decimal`);
  }
  const units = (match[1] ?? '').replace(/^0+/, '') || '0';
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  try {
    return parseAmount(fraction ? `${units}.${fraction}` : units, where);
  } catch (error) {
    if (error instanceof AppError)
      throw new AppError('statement_schema_invalid', `${where}: the amount "${value.slice(0, 30)}" has more than six decimals or is too large`);
    throw error;
  }
}

function partyName(party: unknown): string | null {
  // 001.02: <Dbtr><Nm>; 001.08: <Dbtr><Pty><Nm> (or an agent).
  return text(party, 'Nm') ?? text(party, 'Pty', 'Nm');
}

function readTransaction(tx: unknown, direction: 'credit' | 'debit'): CamtTransaction {
  const refs = child(tx, 'Refs');
  const rmt = child(tx, 'RmtInf');
  const parties = child(tx, 'RltdPties');
  const counterparty = direction === 'credit' ? 'Dbtr' : 'Cdtr';
  const endToEndId = text(refs, 'EndToEndId');
  return {
    amount: amountOf(child(tx, 'Amt')) ?? amountOf(child(tx, 'AmtDtls', 'TxAmt', 'Amt')),
    endToEndIds: endToEndId && endToEndId !== 'NOTPROVIDED' ? [endToEndId] : [],
    ids: ['AcctSvcrRef', 'InstrId', 'TxId', 'MsgId', 'PmtInfId', 'UETR'].map((k) => text(refs, k)).filter((v): v is string => v !== null),
    structuredRefs: list(rmt, 'Strd')
      .map((s) => text(s, 'CdtrRefInf', 'Ref'))
      .filter((v): v is string => v !== null),
    unstructured: list(rmt, 'Ustrd')
      .map((u) => text(u))
      .filter((v): v is string => v !== null),
    counterpartyName: partyName(child(parties, counterparty)),
    counterpartyIban: text(parties, `${counterparty}Acct`, 'Id', 'IBAN'),
  };
}

function dateOf(node: unknown): string | null {
  return text(node, 'Dt') ?? text(node, 'DtTm');
}

function readValid(xml: string, version: CamtVersion): CamtDocument {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    removeNSPrefix: true,
    // Values stay the file's text: amounts and references are never turned into numbers.
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    htmlEntities: false,
    isArray: (name) => ARRAYS.has(name),
  });
  const document = parser.parse(xml) as Node;
  const message = child(document, 'Document', 'BkToCstmrStmt');
  const statements: CamtStatement[] = [];
  let n = 0;
  for (const stmt of list(message, 'Stmt')) {
    const account = text(stmt, 'Acct', 'Id', 'IBAN') ?? text(stmt, 'Acct', 'Id', 'Othr', 'Id') ?? '';
    const entries: CamtEntry[] = [];
    for (const ntry of list(stmt, 'Ntry')) {
      n++;
      if (n > MAX_STATEMENT_ENTRIES)
        throw new AppError('payload_too_large', `a statement file has at most ${MAX_STATEMENT_ENTRIES} entries; import it in parts`);
      const amount = amountOf(child(ntry, 'Amt'));
      if (!amount) throw new AppError('statement_schema_invalid', `entry ${n} has no amount with a currency`);
      const direction = text(ntry, 'CdtDbtInd') === 'CRDT' ? 'credit' : 'debit';
      entries.push({
        n,
        amount: parseStatementAmount(amount.value, `entry ${n}`),
        currency: amount.currency,
        direction,
        // 001.02: <Sts>BOOK</Sts>; 001.08: <Sts><Cd>BOOK</Cd></Sts> (or a proprietary code).
        status: text(ntry, 'Sts') ?? text(ntry, 'Sts', 'Cd') ?? text(ntry, 'Sts', 'Prtry') ?? '',
        reversal: text(ntry, 'RvslInd') === 'true' || text(ntry, 'RvslInd') === '1',
        bookedOn: dateOf(child(ntry, 'BookgDt')),
        valueOn: dateOf(child(ntry, 'ValDt')),
        acctSvcrRef: text(ntry, 'AcctSvcrRef'),
        ntryRef: text(ntry, 'NtryRef'),
        transactions: list(ntry, 'NtryDtls')
          .flatMap((d) => list(d, 'TxDtls'))
          .map((tx) => readTransaction(tx, direction)),
      });
    }
    statements.push({ id: text(stmt, 'Id') ?? '', account, currency: text(stmt, 'Acct', 'Ccy'), entries });
  }
  return { version, messageId: text(message, 'GrpHdr', 'MsgId') ?? '', statements };
}
