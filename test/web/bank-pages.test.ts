/**
 * The bank rails in the browser, without JavaScript (app.inject): the wallet page shows the
 * instance's account, the member's reference and the EPC QR code (or says deposits are arranged
 * with the admin); the payout account form checks the IBAN; the admin uploads a camt.053 file
 * (multipart, CSRF-checked), sees what matched, assigns what did not, and exports the SEPA file.
 */
import t from 'tap';
import { checkLedger } from '../../src/ledger/check.ts';
import { camt053, SAMPLE_IBAN } from '../helpers/camt.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { type Browser, fieldError, startWeb, textOf } from '../helpers/web.ts';

const BANK = { FARTHING_BANK_IBAN: SAMPLE_IBAN, FARTHING_BANK_BIC: 'VAYBNL2A', FARTHING_BANK_HOLDER: 'Farthing Test e.V.' };

/** `asText`: the statement sent as a text field rather than a file. */
async function uploadStatement(browser: Browser, xml: string, csrf: string | undefined, asText = false) {
  const boundary = '----farthingtest7MA4YWxkTrZu0gW';
  const parts = [
    ...(csrf ? [`--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${csrf}\r\n`] : []),
    asText
      ? `--${boundary}\r\nContent-Disposition: form-data; name="statement"\r\n\r\n${xml}\r\n`
      : `--${boundary}\r\nContent-Disposition: form-data; name="statement"; filename="statement.xml"\r\nContent-Type: text/xml\r\n\r\n${xml}\r\n`,
    `--${boundary}--\r\n`,
  ];
  const response = await browser.app.inject({
    method: 'POST',
    url: '/admin/bank',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    payload: parts.join(''),
  });
  return { status: response.statusCode, text: response.body };
}

await eachDatabase(t, async (t, kind) => {
  await t.test('a member funds the wallet by transfer; the admin imports, assigns and exports', async (t) => {
    const inst = await startWeb(t, kind, { env: BANK });
    const ginaToken = await inst.member('gina');
    const reference = (await inst.api('GET', '/api/v1/me/deposit-instructions', { token: ginaToken })).body.reference as string;
    const gina = inst.browser();
    await gina.signIn('gina');
    const wallet = await gina.get('/payouts');
    t.equal(wallet.status, 200);
    t.match(textOf(wallet), reference.replace(/(.{4})(?=.)/g, '$1 '), 'the reference, in groups of four');
    t.match(textOf(wallet), /NL26 VAYB 8060 4768 90/);
    t.match(wallet.text, /<svg width="200" height="200" role="img" aria-label="EPC QR code/);

    const typo = await gina.post('/payouts/account', { iban: 'NL26 VAYB 8060 4768 91', holder: 'Gina' });
    t.equal(typo.status, 400);
    t.match(fieldError(typo, 'iban') ?? '', /check digits.*invalid_iban/);
    const saved = await gina.post('/payouts/account', { iban: 'NL56 AGDH 9619 0084 21', holder: 'Gina G.' });
    t.equal(saved.status, 303);
    t.match(textOf(await gina.get('/payouts')), /NL56 AGDH 9619 0084 21/);

    const admin = inst.browser();
    await admin.signIn('admin', 'admin-password');
    const bankPage = await admin.get('/admin/bank');
    t.equal(bankPage.status, 200);
    const xml = camt053([
      { amount: '30.00', acctSvcrRef: 'PAGE-1', structured: reference },
      { amount: '4.00', acctSvcrRef: 'PAGE-2', ustrd: ['for gina, sorry no reference'] },
    ]);
    const refused = await uploadStatement(admin, xml, undefined);
    t.equal(refused.status, 403, 'no CSRF token, no import');
    const asText = await uploadStatement(admin, 'not a file', admin.csrf, true);
    t.equal(asText.status, 400, 'the statement sent as a text field: refused next to the field, not a 500');
    t.match(asText.text, /id="statement-error">choose the statement file to upload/);
    t.match(asText.text, /No unmatched entries/, 'nothing was imported');
    const imported = await uploadStatement(admin, xml, admin.csrf);
    t.equal(imported.status, 200, imported.text.slice(0, 300));
    t.match(imported.text, /Matched \(1\)/);
    t.match(imported.text, /Unmatched \(1\)/);
    const wrong = await uploadStatement(admin, camt053([{ amount: '1.00', acctSvcrRef: 'W' }], { iban: 'DE89370400440532013000' }), admin.csrf);
    t.equal(wrong.status, 400);
    t.match(wrong.text, /statement_wrong_account/);
    const again = await uploadStatement(admin, xml, admin.csrf);
    t.match(again.text, /Already imported \(2\)/);

    const entryId = /action="\/admin\/bank\/entries\/([0-9]+)\/assign"/.exec(again.text)?.[1];
    const assigned = await admin.post(`/admin/bank/entries/${entryId}/assign`, { who: 'gina' });
    t.equal(assigned.status, 303);
    t.equal((await inst.api('GET', '/api/v1/me', { token: ginaToken })).body.balance, '34.00');

    await gina.get('/payouts');
    t.equal((await gina.post('/payouts', { amount: '20.00' })).status, 303);
    await admin.get('/admin/payouts/sepa');
    const exported = await admin.post('/admin/payouts/sepa', {});
    t.equal(exported.status, 303);
    const file = await admin.get(exported.location ?? '');
    t.equal(file.status, 200);
    t.match(file.text, /<InstdAmt Ccy="EUR">20.00<\/InstdAmt>/);
    const check = await checkLedger(inst.ctx.db);
    t.ok(check.balanced, 'ledger self-check');
  });
});

await eachDatabase(t, async (t, kind) => {
  await t.test('without bank details the wallet page says deposits are arranged with the admin', async (t) => {
    const inst = await startWeb(t, kind);
    await inst.member('hugo');
    const hugo = inst.browser();
    await hugo.signIn('hugo');
    const wallet = await hugo.get('/payouts');
    t.match(textOf(wallet), /Deposits are arranged with the admin/);
    t.notMatch(wallet.text, /<svg width="200"/);
  });
});
