/**
 * product rule 11, money out by SEPA credit transfer: members give a payout account (IBAN
 * checked); the admin exports the requested payouts as a pain.001 file that validates against
 * the shared XSD (with xmllint, as a bank would check it); they become exported, are in at most
 * one file, the same batch downloads as the same bytes, and the bank's camt.053 statement showing
 * the debits marks them paid (the money leaves the ledger then, once). Payouts that cannot go by
 * SEPA are left out with the reason. The ledger self-check runs after each scenario.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { schemaProblems } from '../../src/banking/xsd.ts';
import { checkLedger } from '../../src/ledger/check.ts';
import { camt053, SAMPLE_IBAN, xsdPath } from '../helpers/camt.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, type TestInstance } from '../helpers/instance.ts';

const run = promisify(execFile);
const BANK = { FARTHING_BANK_IBAN: SAMPLE_IBAN, FARTHING_BANK_BIC: 'VAYBNL2A', FARTHING_BANK_HOLDER: 'Farthing Test e.V.' };

/** xmllint --schema against the shared XSD; without xmllint installed, libxml2 as WebAssembly against the repo's copy. */
async function schemaErrors(xml: string, version: '03' | '09'): Promise<string> {
  const name = `pain.001.001.${version}`;
  const dir = mkdtempSync(join(tmpdir(), 'farthing-pain-'));
  const file = join(dir, 'payouts.xml');
  writeFileSync(file, xml);
  try {
    await run('xmllint', ['--noout', '--schema', xsdPath(name), file]);
    return '';
  } catch (error) {
    const e = error as { code?: string | number; stderr?: string };
    if (e.code !== 'ENOENT') return e.stderr ?? String(error);
    const problems = await schemaProblems(xml, name as 'pain.001.001.03');
    return problems.map((p) => p.message).join('\n');
  }
}

async function ledgerChecked(t: Test, inst: TestInstance) {
  const check = await checkLedger(inst.ctx.db);
  t.ok(check.balanced, `ledger self-check: ${JSON.stringify(check.checks.filter((c) => !c.ok))}`);
}

await eachDatabase(t, async (t, kind) => {
  const inst = await startInstance(t, kind, { env: BANK });
  const { api, adminToken } = inst;
  const dora = await inst.member('dora', { deposit: '100.00' });
  const emil = await inst.member('emil', { deposit: '100.00' });
  const fred = await inst.member('fred', { deposit: '100.00' });

  await t.test('a payout account needs a valid IBAN and a holder', async (t) => {
    const typo = await api('PUT', '/api/v1/me/payout-account', { token: dora, body: { iban: 'DE89 3704 0044 0532 0130 01', holder: 'Dora Müller' } });
    t.equal(typo.status, 400);
    t.equal(typo.body.error.code, 'invalid_iban');
    t.match(typo.body.error.message, /check digits/);
    const short = await api('PUT', '/api/v1/me/payout-account', { token: dora, body: { iban: 'DE89 3704', holder: 'Dora' } });
    t.equal(short.body.error.code, 'invalid_iban');
    const noHolder = await api('PUT', '/api/v1/me/payout-account', { token: dora, body: { iban: 'DE89370400440532013000', holder: ' ' } });
    t.equal(noHolder.status, 400);
    t.equal((await api('GET', '/api/v1/me/payout-account', { token: dora })).status, 404);
    const ok = await api('PUT', '/api/v1/me/payout-account', { token: dora, body: { iban: 'de89 3704 0044 0532 0130 00', holder: 'Dora Müller & Söhne' } });
    t.equal(ok.status, 200, ok.text);
    t.match(ok.body, { iban: 'DE89370400440532013000', holder: 'Dora Müller & Söhne' });
    t.equal((await api('PUT', '/api/v1/me/payout-account', { token: emil, body: { iban: 'FR1420041010050500013M02606', holder: 'Emil' } })).status, 200);
  });

  let firstFile = '';
  let firstBatch = '';
  await t.test('the requested payouts become one pain.001.001.03 file that validates; the rest is left out with why', async (t) => {
    const p1 = await api('POST', '/api/v1/me/payouts', { token: dora, body: { amount: '20.00' } });
    const p2 = await api('POST', '/api/v1/me/payouts', { token: emil, body: { amount: '12.34' } });
    const p3 = await api('POST', '/api/v1/me/payouts', { token: fred, body: { amount: '15.00' } });
    const p4 = await api('POST', '/api/v1/me/payouts', { token: emil, body: { amount: '10.000001' } });
    t.same([p1.status, p2.status, p3.status, p4.status], [201, 201, 201, 201]);
    const r = await api('GET', '/api/v1/admin/payouts/sepa', { token: adminToken });
    t.equal(r.status, 200, r.text);
    t.match(r.headers['content-type'], /application\/xml/);
    t.equal(r.headers['x-farthing-left-out'], '2');
    firstFile = r.text;
    firstBatch = String(r.headers['x-farthing-batch']);
    t.equal(await schemaErrors(firstFile, '03'), '', 'valid against pain.001.001.03.xsd');
    t.match(firstFile, /<NbOfTxs>2<\/NbOfTxs>/);
    t.match(firstFile, /<CtrlSum>32.34<\/CtrlSum>/);
    t.match(firstFile, /<Nm>Dora Muller \+ Sohne<\/Nm>/, 'names in the SEPA character set');
    t.match(firstFile, new RegExp(`<EndToEndId>${p1.body.id.replace(/-/g, '')}</EndToEndId>`));
    t.notMatch(firstFile, /15\.00|10\.000001/);
    const states = await api('GET', '/api/v1/admin/payouts', { token: adminToken });
    const stateOf = (id: string) => states.body.items.find((p: any) => p.id === id).state;
    t.same([stateOf(p1.body.id), stateOf(p2.body.id), stateOf(p3.body.id), stateOf(p4.body.id)], ['exported', 'exported', 'requested', 'requested']);
    const batches = await api('GET', '/api/v1/admin/payouts/sepa/batches', { token: adminToken });
    t.same(
      batches.body.items.map((b: any) => [b.id, b.payouts, b.total, b.paid]),
      [[firstBatch, 2, '32.34', 0]],
    );
    t.same(batches.body.left_out.map((l: any) => [l.username, l.amount]).sort(), [
      ['emil', '10.000001'],
      ['fred', '15.00'],
    ]);
    t.match(batches.body.left_out.find((l: any) => l.username === 'fred').reason, /no payout account/);
    t.match(batches.body.left_out.find((l: any) => l.username === 'emil').reason, /fractions of a cent/);
    await ledgerChecked(t, inst);
  });

  await t.test('exporting again gives the same file; a payout is in at most one file', async (t) => {
    const again = await api('GET', '/api/v1/admin/payouts/sepa', { token: adminToken });
    t.equal(again.text, firstFile, 'byte for byte');
    t.equal((await api('GET', `/api/v1/admin/payouts/sepa?batch=${firstBatch}`, { token: adminToken })).text, firstFile);
    t.equal((await api('PUT', '/api/v1/me/payout-account', { token: fred, body: { iban: 'NL56AGDH9619008421', holder: 'Fred' } })).status, 200);
    const next = await api('GET', '/api/v1/admin/payouts/sepa?version=09&format=json', { token: adminToken });
    t.equal(next.status, 200, next.text);
    t.not(next.body.batch.id, firstBatch);
    t.equal(next.body.batch.payouts, 1, "only fred's payout: the others are in the first file");
    t.equal(await schemaErrors(next.body.document, '09'), '', 'valid against pain.001.001.09.xsd');
    t.equal((await api('GET', '/api/v1/admin/payouts/sepa?version=11', { token: adminToken })).status, 400);
    t.equal((await api('GET', '/api/v1/admin/payouts/sepa?batch=nope', { token: adminToken })).status, 404);
    t.equal((await api('GET', '/api/v1/admin/payouts/sepa', { token: dora })).status, 403, 'admins only');
    await ledgerChecked(t, inst);
  });

  await t.test("the bank statement's debits mark the exported payouts paid, once", async (t) => {
    const payouts = (await api('GET', '/api/v1/admin/payouts?state=exported', { token: adminToken })).body.items;
    const dora20 = payouts.find((p: any) => p.username === 'dora');
    const emil12 = payouts.find((p: any) => p.username === 'emil');
    const fred15 = payouts.find((p: any) => p.username === 'fred');
    const xml = camt053([
      { amount: '20.00', direction: 'DBIT', acctSvcrRef: 'OUT-1', endToEndIds: [dora20.id.replace(/-/g, '')] },
      { amount: '12.00', direction: 'DBIT', acctSvcrRef: 'OUT-2', endToEndIds: [emil12.id.replace(/-/g, '')] },
    ]);
    const r = await api('POST', '/api/v1/admin/bank-statements', { token: adminToken, body: xml, headers: { 'content-type': 'application/xml' } });
    t.equal(r.status, 200, r.text);
    t.same(
      r.body.matched.map((m: any) => [m.entry_ref, m.payouts]),
      [['OUT-1', [dora20.id]]],
    );
    t.match(r.body.unmatched[0].reason, /differs/, 'a debit of another amount is not taken as the payout');
    const after = (await api('GET', '/api/v1/me/payouts', { token: dora })).body.items[0];
    t.match(after, { state: 'paid', reference: 'bank statement OUT-1' });
    const again = await api('POST', '/api/v1/admin/bank-statements', { token: adminToken, body: xml, headers: { 'content-type': 'application/xml' } });
    t.equal(again.body.duplicates.length, 2);
    // By hand, as before, for the one the statement did not show.
    t.equal((await api('POST', `/api/v1/admin/payouts/${fred15.id}/paid`, { token: adminToken, body: { reference: 'sent by hand' } })).status, 200);
    const batches = await api('GET', '/api/v1/admin/payouts/sepa/batches', { token: adminToken });
    t.same(batches.body.items.map((b: any) => b.paid).sort(), [1, 1]);
    await ledgerChecked(t, inst);
  });
});

await eachDatabase(t, async (t, kind) => {
  await t.test('no SEPA file without the bank details, and nothing to export is 404', async (t) => {
    const inst = await startInstance(t, kind);
    const r = await inst.api('GET', '/api/v1/admin/payouts/sepa', { token: inst.adminToken });
    t.equal(r.status, 409);
    t.equal(r.body.error.code, 'bank_not_configured');
  });
});
