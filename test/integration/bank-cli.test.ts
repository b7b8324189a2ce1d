/**
 * The bank rails from the admin CLI (`npm run farthing -- …`), as `runCli` runs them with their
 * own instance on the server's database: import-bank (once, however often), bank-entries,
 * bank-assign, bank-ignore, payouts-sepa to a file (never overwriting one). PostgreSQL only, like
 * every CLI test: the CLI shares a running instance's database, which an in-memory PGlite cannot.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../../src/cli.ts';
import { camt053 } from '../helpers/camt.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, type TestInstance } from '../helpers/instance.ts';

const BANK = { FARTHING_BANK_IBAN: 'NL26 VAYB 8060 4768 90', FARTHING_BANK_BIC: 'VAYBNL2A', FARTHING_BANK_HOLDER: 'Farthing Test e.V.' };

async function cli(inst: TestInstance, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: any }> {
  let stdout = '';
  let stderr = '';
  const env = { DATABASE_URL: inst.database.url ?? '', FARTHING_ORIGIN: 'https://a.example', FARTHING_LOG_LEVEL: 'warn', ...BANK };
  const code = await runCli(args, env, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr, json };
}

await eachDatabase(
  t,
  async (t, kind) => {
    const inst = await startInstance(t, kind, { env: BANK });
    const dir = mkdtempSync(path.join(tmpdir(), 'farthing-bank-cli-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const dora = await inst.member('dora');
    const reference = (await inst.api('GET', '/api/v1/me/deposit-instructions', { token: dora })).body.reference as string;
    const balance = async () => (await inst.api('GET', '/api/v1/me', { token: dora })).body.balance as string;

    t.test('import-bank: credits with a reference become deposits, once; the rest waits', async (t) => {
      const file = path.join(dir, 'statement.xml');
      writeFileSync(
        file,
        camt053([
          { amount: '25.00', structured: reference, acctSvcrRef: 'CLI-1', debtor: 'Dora' },
          { amount: '7.00', ustrd: ['for dora, no reference'], acctSvcrRef: 'CLI-2' },
          { amount: '3.00', ustrd: ['bank interest'], acctSvcrRef: 'CLI-3' },
        ]),
      );
      const first = await cli(inst, 'import-bank', file);
      t.equal(first.code, 0, first.stderr);
      t.equal(first.json.matched.length, 1);
      t.equal(first.json.unmatched.length, 2);
      t.equal(await balance(), '25.00');
      const again = await cli(inst, 'import-bank', file);
      t.equal(again.code, 0, again.stderr);
      t.same([again.json.matched.length, again.json.unmatched.length, again.json.duplicates.length], [0, 0, 3], 'the same file again records nothing');
      t.equal(await balance(), '25.00');
      const missing = await cli(inst, 'import-bank', path.join(dir, 'nope.xml'));
      t.equal(missing.code, 2);
      t.match(missing.stderr, /^invalid_request: cannot read .*nope\.xml: there is no such file/);
      const wrong = path.join(dir, 'not-camt.xml');
      writeFileSync(wrong, '<Document/>');
      const refused = await cli(inst, 'import-bank', wrong);
      t.equal(refused.code, 2, 'not a statement: refused with its code');
      t.match(refused.stderr, /^statement_/);
    });

    t.test('bank-entries, bank-assign, bank-ignore: the admin decides what waits', async (t) => {
      const open = await cli(inst, 'bank-entries', '--state', 'unmatched');
      t.equal(open.code, 0, open.stderr);
      const items = open.json.items as { id: string; amount: string }[];
      t.same(items.map((i) => i.amount).sort(), ['3.00', '7.00']);
      const seven = items.find((i) => i.amount === '7.00')!;
      const three = items.find((i) => i.amount === '3.00')!;
      const assigned = await cli(inst, 'bank-assign', String(seven.id), 'dora');
      t.equal(assigned.code, 0, assigned.stderr);
      t.equal(await balance(), '32.00', 'assigned as her deposit');
      const twice = await cli(inst, 'bank-assign', String(seven.id), 'dora');
      t.equal(twice.code, 0, 'the same assignment again changes nothing');
      t.equal(await balance(), '32.00');
      await inst.member('emil');
      const other = await cli(inst, 'bank-assign', String(seven.id), 'emil');
      t.equal(other.code, 2, 'an entry is assigned once');
      t.match(other.stderr, /^entry_decided: /);
      t.equal(await balance(), '32.00');
      const byReference = await cli(inst, 'bank-assign', String(three.id), 'RF00000000000');
      t.equal(byReference.code, 2, "a reference that is no member's is refused");
      const ignored = await cli(inst, 'bank-ignore', String(three.id));
      t.equal(ignored.code, 0, ignored.stderr);
      t.same((await cli(inst, 'bank-entries', '--state', 'unmatched')).json.items, [], 'nothing waits any more');
      t.equal((await cli(inst, 'bank-entries', '--state', 'bogus')).code, 2);
    });

    t.test('payouts-sepa: the requested payouts as a pain.001 file, never over an existing file', async (t) => {
      t.equal(
        (await inst.api('PUT', '/api/v1/me/payout-account', { token: dora, body: { iban: 'DE89370400440532013000', holder: 'Dora Müller' } })).status,
        200,
      );
      t.equal((await inst.api('POST', '/api/v1/me/payouts', { token: dora, body: { amount: '12.00' } })).status, 201);
      const out = path.join(dir, 'payouts.xml');
      const exported = await cli(inst, 'payouts-sepa', '--out', out);
      t.equal(exported.code, 0, exported.stderr);
      t.match(exported.stderr, /^batch \S+: 1 payout\(s\), 12\.00 EUR/);
      t.match(exported.json, { file: out, batch: { payouts: 1, total: '12.00' }, left_out: [] });
      const xml = readFileSync(out, 'utf8');
      t.match(xml, /urn:iso:std:iso:20022:tech:xsd:pain\.001\.001\.03/, 'version 03 unless --version says otherwise');
      t.match(xml, /<IBAN>DE89370400440532013000<\/IBAN>/);
      t.match(xml, /<InstdAmt Ccy="EUR">12\.00<\/InstdAmt>/);
      const batchId = exported.json.batch.id as string;
      const over = await cli(inst, 'payouts-sepa', '--batch', batchId, '--out', out);
      t.equal(over.code, 2, 'an existing file is never overwritten');
      t.match(over.stderr, /the file exists/);
      t.equal(readFileSync(out, 'utf8'), xml, 'and stays as it was');
      const again = await cli(inst, 'payouts-sepa', '--batch', batchId);
      t.equal(again.code, 0, again.stderr);
      t.equal(again.stdout, xml, 'the batch again, byte for byte, to stdout');
    });
  },
  ['postgres'],
);
