/**
 * product rule 11, money in by bank transfer: the admin imports the bank's camt.053 statement;
 * each booked credit carrying a member's transfer reference becomes their deposit, once, however
 * often (or overlapping) the statement is imported; the rest waits for the admin to assign or
 * ignore. A file of another account, in another currency, malformed or not following the schema
 * is refused with a code naming the problem and records nothing. The shared samples import.
 * The ledger self-check runs after each scenario.
 */
import t, { type Test } from 'tap';
import { checkLedger } from '../../src/ledger/check.ts';
import { camt053 } from '../helpers/camt.ts';
import { eachDatabase, rowCount } from '../helpers/databases.ts';
import { startInstance, type TestInstance } from '../helpers/instance.ts';

const BANK = { FARTHING_BANK_IBAN: 'NL26 VAYB 8060 4768 90', FARTHING_BANK_BIC: 'VAYBNL2A', FARTHING_BANK_HOLDER: 'Farthing Test e.V.' };

async function upload(inst: TestInstance, xml: string, contentType = 'application/xml') {
  return inst.api('POST', '/api/v1/admin/bank-statements', { token: inst.adminToken, body: xml, headers: { 'content-type': contentType } });
}

async function referenceOf(inst: TestInstance, token: string): Promise<string> {
  const r = await inst.api('GET', '/api/v1/me/deposit-instructions', { token });
  return r.body.reference as string;
}

async function balanceOf(inst: TestInstance, token: string): Promise<string> {
  return (await inst.api('GET', '/api/v1/me', { token })).body.balance as string;
}

async function ledgerChecked(t: Test, inst: TestInstance) {
  const check = await checkLedger(inst.ctx.db);
  t.ok(check.balanced, `ledger self-check: ${JSON.stringify(check.checks.filter((c) => !c.ok))}`);
}

async function countRows(inst: TestInstance) {
  const { db } = inst.ctx;
  const [entries, imports, transfers] = await Promise.all([rowCount(db, 'bank_entries'), rowCount(db, 'bank_imports'), rowCount(db, 'transfers')]);
  return { entries, imports, transfers };
}

await eachDatabase(t, async (t, kind) => {
  const inst = await startInstance(t, kind, { env: BANK });
  const alice = await inst.member('alice');
  const bob = await inst.member('bob');
  const aliceRef = await referenceOf(inst, alice);
  const bobRef = await referenceOf(inst, bob);

  await t.test('a member keeps one reference, and it has valid RF check digits', async (t) => {
    t.match(aliceRef, /^RF[0-9]{14}$/);
    t.equal(await referenceOf(inst, alice), aliceRef, 'asked again: the same reference');
    t.not(aliceRef, bobRef);
  });

  await t.test('credits with a structured or a written reference become deposits; the rest is unmatched', async (t) => {
    const spaced = bobRef.replace(/(.{4})/g, '$1 ').toLowerCase();
    const xml = camt053([
      { amount: '25.00', acctSvcrRef: 'BANK-0001', structured: aliceRef, debtor: 'Alice A.' },
      { amount: '10.50', acctSvcrRef: 'BANK-0002', ustrd: [`Farthing top-up ${spaced} thanks`], debtor: 'Bob B.' },
      { amount: '7.00', acctSvcrRef: 'BANK-0003', ustrd: ['membership fee'], debtor: 'Carol C.' },
      { amount: '3.00', acctSvcrRef: 'BANK-0004', status: 'PDNG', structured: aliceRef },
      { amount: '99.00', acctSvcrRef: 'BANK-0005', direction: 'DBIT', ustrd: ['bank fees'] },
    ]);
    const r = await upload(inst, xml);
    t.equal(r.status, 200, r.text);
    t.same(
      r.body.matched.map((m: any) => [m.entry_ref, m.amount, m.member]),
      [
        ['BANK-0001', '25.00', 'alice'],
        ['BANK-0002', '10.50', 'bob'],
      ],
    );
    t.same(
      r.body.unmatched.map((m: any) => [m.entry_ref, m.amount, m.direction]),
      [
        ['BANK-0003', '7.00', 'credit'],
        ['BANK-0005', '99.00', 'debit'],
      ],
    );
    t.match(r.body.unmatched[0].reason, /no member's transfer reference/);
    t.same(r.body.duplicates, []);
    t.same(
      r.body.skipped.map((s: any) => s.entry_ref),
      ['BANK-0004'],
      'a pending entry is not booked yet',
    );
    t.equal(await balanceOf(inst, alice), '25.00');
    t.equal(await balanceOf(inst, bob), '10.50');
    const ledger = await inst.api('GET', '/api/v1/me/ledger', { token: alice });
    t.match(ledger.body.items[0], { kind: 'deposit', amount: '25.00', reference: 'bank transfer BANK-0001' });
    await ledgerChecked(t, inst);
  });

  await t.test('the same file again, and an overlapping one, record nothing twice', async (t) => {
    const before = await countRows(inst);
    const again = await upload(
      inst,
      camt053(
        [
          { amount: '25.00', acctSvcrRef: 'BANK-0001', structured: aliceRef },
          { amount: '10.50', acctSvcrRef: 'BANK-0002', ustrd: [`Farthing top-up ${bobRef}`] },
          { amount: '7.00', acctSvcrRef: 'BANK-0003', ustrd: ['membership fee'] },
          { amount: '99.00', acctSvcrRef: 'BANK-0005', direction: 'DBIT', ustrd: ['bank fees'] },
        ],
        { statementId: 'STMT-TEST-1-COPY' },
      ),
    );
    t.equal(again.status, 200);
    t.same(again.body.matched, []);
    t.same(again.body.unmatched, []);
    t.same(
      again.body.duplicates.map((d: any) => [d.entry_ref, d.state, d.member]),
      [
        ['BANK-0001', 'deposited', 'alice'],
        ['BANK-0002', 'deposited', 'bob'],
        ['BANK-0003', 'unmatched', null],
        ['BANK-0005', 'unmatched', null],
      ],
    );
    t.equal(again.body.import_id, null);
    t.same(await countRows(inst), before, 'nothing new recorded');

    // The next statement overlaps: the pending entry is booked now, plus a new transfer.
    const overlap = await upload(
      inst,
      camt053(
        [
          { amount: '25.00', acctSvcrRef: 'BANK-0001', structured: aliceRef },
          { amount: '3.00', acctSvcrRef: 'BANK-0004', structured: aliceRef },
          { amount: '1.25', acctSvcrRef: 'BANK-0006', structured: bobRef },
        ],
        { statementId: 'STMT-TEST-2' },
      ),
    );
    t.equal(overlap.status, 200);
    t.same(
      overlap.body.matched.map((m: any) => m.entry_ref),
      ['BANK-0004', 'BANK-0006'],
    );
    t.same(
      overlap.body.duplicates.map((m: any) => m.entry_ref),
      ['BANK-0001'],
    );
    t.equal(await balanceOf(inst, alice), '28.00');
    t.equal(await balanceOf(inst, bob), '11.75');
    await ledgerChecked(t, inst);
  });

  await t.test('without the bank reference, identical entries are told apart and found again', async (t) => {
    // Two identical transfers on one day, no AcctSvcrRef (NtryRef numbered per statement).
    const day = [
      { amount: '5.00', ntryRef: '1', bookedOn: '2026-11-08', structured: bobRef },
      { amount: '5.00', ntryRef: '2', bookedOn: '2026-11-08', structured: bobRef },
    ];
    const first = await upload(inst, camt053(day));
    t.equal(first.body.matched.length, 2);
    t.equal(await balanceOf(inst, bob), '21.75');
    // The monthly statement numbers its entries again (NtryRef 7 and 8) and adds one.
    const monthly = await upload(
      inst,
      camt053(
        [
          { amount: '5.00', ntryRef: '7', bookedOn: '2026-11-08', structured: bobRef },
          { amount: '5.00', ntryRef: '8', bookedOn: '2026-11-08', structured: bobRef },
          { amount: '5.00', ntryRef: '9', bookedOn: '2026-11-09', structured: bobRef },
        ],
        { statementId: 'MONTHLY' },
      ),
    );
    t.equal(monthly.body.duplicates.length, 2);
    t.equal(monthly.body.matched.length, 1);
    t.equal(await balanceOf(inst, bob), '26.75');
    await ledgerChecked(t, inst);
  });

  await t.test('a batch entry is split into its transfers; a mistyped or shared reference is unmatched', async (t) => {
    // Two neighbouring digits swapped: the first pair after the check digits that differs (a
    // random reference may repeat a digit, and swapping equal digits is no typo).
    const at = [...aliceRef].findIndex((c, i) => i >= 4 && i + 1 < aliceRef.length && c !== aliceRef[i + 1]);
    const typo = `${aliceRef.slice(0, at)}${aliceRef[at + 1]}${aliceRef[at]}${aliceRef.slice(at + 2)}`;
    t.not(typo, aliceRef, 'the typo differs from the reference');
    const r = await upload(
      inst,
      camt053(
        [
          {
            amount: '3.50',
            acctSvcrRef: 'BATCH-1',
            batch: [
              { amount: '1.50', structured: aliceRef },
              { amount: '2.00', ustrd: `for ${bobRef}` },
            ],
          },
          { amount: '4.00', acctSvcrRef: 'TYPO-1', structured: typo },
          { amount: '6.00', acctSvcrRef: 'BOTH-1', ustrd: [`${aliceRef} and ${bobRef}`] },
        ],
        { version: '08' },
      ),
    );
    t.equal(r.status, 200, r.text);
    t.same(
      r.body.matched.map((m: any) => [m.entry_ref, m.amount, m.member]),
      [
        ['BATCH-1', '1.50', 'alice'],
        ['BATCH-1', '2.00', 'bob'],
      ],
    );
    if (typo !== aliceRef) t.match(r.body.unmatched.find((u: any) => u.entry_ref === 'TYPO-1')?.reason ?? '', /check digits|no member/);
    t.match(r.body.unmatched.find((u: any) => u.entry_ref === 'BOTH-1')?.reason ?? '', /2 members/);
    await ledgerChecked(t, inst);
  });

  await t.test('the admin assigns an unmatched credit (once) or ignores an entry', async (t) => {
    const open = await inst.api('GET', '/api/v1/admin/bank-entries?state=unmatched', { token: inst.adminToken });
    t.equal(open.status, 200);
    const fee = open.body.items.find((i: any) => i.entry_ref === 'BANK-0003');
    const debit = open.body.items.find((i: any) => i.entry_ref === 'BANK-0005');
    const before = await balanceOf(inst, alice);
    const bad = await inst.api('POST', `/api/v1/admin/bank-entries/${fee.id}/assign`, {
      token: inst.adminToken,
      body: { reference: `${aliceRef.slice(0, -1)}${aliceRef.endsWith('0') ? '1' : '0'}` },
    });
    t.equal(bad.status, 400);
    t.equal(bad.body.error.code, 'invalid_reference', 'a mistyped reference is refused by its check digits');
    const assigned = await inst.api('POST', `/api/v1/admin/bank-entries/${fee.id}/assign`, {
      token: inst.adminToken,
      body: { reference: aliceRef.toLowerCase() },
    });
    t.equal(assigned.status, 200, assigned.text);
    t.match(assigned.body, { state: 'assigned', member: 'alice' });
    const repeat = await inst.api('POST', `/api/v1/admin/bank-entries/${fee.id}/assign`, { token: inst.adminToken, body: { username: 'alice' } });
    t.equal(repeat.status, 200, 'the same assignment again changes nothing');
    const other = await inst.api('POST', `/api/v1/admin/bank-entries/${fee.id}/assign`, { token: inst.adminToken, body: { username: 'bob' } });
    t.equal(other.body.error.code, 'entry_decided');
    t.equal(await balanceOf(inst, alice), (Number(before) + 7).toFixed(2));
    const debitAssign = await inst.api('POST', `/api/v1/admin/bank-entries/${debit.id}/assign`, { token: inst.adminToken, body: { username: 'alice' } });
    t.equal(debitAssign.status, 400, 'a debit is no deposit');
    t.equal((await inst.api('POST', `/api/v1/admin/bank-entries/${debit.id}/ignore`, { token: inst.adminToken })).body.state, 'ignored');
    t.equal((await inst.api('POST', '/api/v1/admin/bank-entries/999999/ignore', { token: inst.adminToken })).status, 404);
    t.equal((await inst.api('GET', '/api/v1/admin/bank-entries?state=bogus', { token: inst.adminToken })).status, 400);
    await ledgerChecked(t, inst);
  });

  await t.test('refused files record nothing and name the problem', async (t) => {
    const before = await countRows(inst);
    const good = [{ amount: '50.00', acctSvcrRef: 'REFUSED-1', structured: aliceRef }];
    const cases: [string, string, string, RegExp][] = [
      ['wrong account', camt053(good, { iban: 'DE89370400440532013000' }), 'statement_wrong_account', /DE89370400440532013000/],
      ['wrong account currency', camt053(good, { accountCurrency: 'CHF' }), 'statement_wrong_currency', /CHF/],
      [
        'an entry in another currency',
        camt053([...good, { amount: '1.00', currency: 'USD', acctSvcrRef: 'USD-1' }], { accountCurrency: null }),
        'statement_wrong_currency',
        /USD/,
      ],
      ['malformed', camt053(good).replace('</Stmt>', ''), 'statement_malformed', /line/],
      ['schema-invalid', camt053(good).replace('<CdtDbtInd>CRDT</CdtDbtInd>', '<CdtDbtInd>BOTH</CdtDbtInd>'), 'statement_schema_invalid', /camt\.053\.001\.02/],
      [
        'not camt.053',
        '<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
        'statement_unsupported',
        /pain\.001\.001\.03/,
      ],
      ['a DOCTYPE', `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]>${camt053(good).replace(/^<\?xml[^>]*>/, '')}`, 'statement_malformed', /DOCTYPE/],
      ['not XML at all', 'IBAN;amount\nNL..;5', 'statement_malformed', /not XML/],
      ['empty', '', 'statement_malformed', /empty/],
    ];
    for (const [what, xml, code, message] of cases) {
      const r = await upload(inst, xml);
      t.equal(r.status, 400, `${what}: 400`);
      t.equal(r.body?.error?.code, code, `${what}: ${code}`);
      t.match(r.body?.error?.message, message, `${what}: the message names the problem`);
    }
    const json = await inst.api('POST', '/api/v1/admin/bank-statements', { token: inst.adminToken, body: { xml: 'no' } });
    t.equal(json.status, 415, 'JSON is not a statement');
    const huge = await upload(inst, `<a>${'x'.repeat(11 * 1024 * 1024)}</a>`);
    t.equal(huge.status, 413, 'bounded size');
    const member = await inst.api('POST', '/api/v1/admin/bank-statements', {
      token: alice,
      body: camt053(good),
      headers: { 'content-type': 'application/xml' },
    });
    t.equal(member.status, 403, 'members cannot import');
    t.same(await countRows(inst), before, 'nothing recorded by any refused file');
    await ledgerChecked(t, inst);
  });
});

await eachDatabase(t, async (t, kind) => {
  await t.test('without bank details: the reference still, no account, and no import', async (t) => {
    const inst = await startInstance(t, kind);
    const carol = await inst.member('carol');
    const r = await inst.api('GET', '/api/v1/me/deposit-instructions', { token: carol });
    t.equal(r.status, 200);
    t.match(r.body, { iban: null, bic: null, holder: null, epc_payload: null, qr_svg: null, reference: /^RF/ });
    const imp = await upload(inst, camt053([{ amount: '1.00', acctSvcrRef: 'X' }]));
    t.equal(imp.status, 409);
    t.equal(imp.body.error.code, 'bank_not_configured');
  });
});
