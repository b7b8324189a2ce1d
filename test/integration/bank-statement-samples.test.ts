/**
 * product rule 11: the shared camt.053 samples (genkgo/camt's test data) import as a bank would
 * send them: 001.02 with one and with two statements, 001.08 (an account named by Othr/Id, the
 * booking date as a date-time, the bank's AcctSvcrRef), and the malformed one is refused. None of
 * them carries a member's reference, so everything waits for the admin; the 001.08 entry is
 * recognised as a duplicate by its AcctSvcrRef. The ledger self-check runs after each.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { checkLedger } from '../../src/ledger/check.ts';
import { SAMPLE_IBAN, samplePath } from '../helpers/camt.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, type TestInstance } from '../helpers/instance.ts';

const BANK = { FARTHING_BANK_IBAN: SAMPLE_IBAN, FARTHING_BANK_HOLDER: 'Farthing Test e.V.' };

async function upload(inst: TestInstance, xml: string) {
  return inst.api('POST', '/api/v1/admin/bank-statements', { token: inst.adminToken, body: xml, headers: { 'content-type': 'application/xml' } });
}

await eachDatabase(t, async (t, kind) => {
  const inst = await startInstance(t, kind, { env: BANK });
  await t.test('the shared samples import (001.02, two statements, 001.08) and the wrong one is refused', async (t) => {
    const minimal = samplePath('camt053.v2.minimal.xml');
    if (!minimal) {
      t.pass('../shared/iso20022 is not next to the worktree: the samples are not here to import');
      return;
    }
    const v2 = await upload(inst, readFileSync(minimal, 'utf8'));
    t.equal(v2.status, 200, v2.text);
    t.equal(v2.body.version, 'camt.053.001.02');
    t.same(
      v2.body.unmatched.map((u: any) => [u.amount, u.direction, u.remittance]),
      [['8.85', 'credit', '4654654654654654']],
      'a credit with a non-RF reference waits for the admin',
    );
    const multi = await upload(inst, readFileSync(samplePath('camt053.v2.multi.statement.xml') as string, 'utf8'));
    t.equal(multi.status, 200, multi.text);
    t.same(
      multi.body.unmatched.map((u: any) => [u.amount, u.direction]),
      [
        ['8.85', 'credit'],
        ['7.00', 'debit'],
      ],
    );
    t.match(multi.body.unmatched[1].reason, /000000002 is not a payout/);
    const v8 = await upload(inst, readFileSync(samplePath('camt053.v8.xml') as string, 'utf8'));
    t.equal(v8.status, 200, v8.text);
    t.equal(v8.body.version, 'camt.053.001.08');
    t.same(
      v8.body.unmatched.map((u: any) => [u.entry_ref, u.amount, u.counterparty]),
      [['AAAASESS-FP-CN_98765/01', '8.85', 'NAME NAME']],
    );
    const v8again = await upload(inst, readFileSync(samplePath('camt053.v8.xml') as string, 'utf8'));
    t.same(
      v8again.body.duplicates.map((d: any) => d.entry_ref),
      ['AAAASESS-FP-CN_98765/01'],
    );
    const wrong = await upload(inst, readFileSync(samplePath('camt053.v2.wrong.xml') as string, 'utf8'));
    t.equal(wrong.status, 400);
    t.equal(wrong.body.error.code, 'statement_schema_invalid');
    t.match(wrong.body.error.message, /Stmt/);
    const check = await checkLedger(inst.ctx.db);
    t.ok(check.balanced, 'ledger self-check');
  });
});
