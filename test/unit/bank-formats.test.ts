/**
 * The small formats of the bank rails, without a database: ISO 11649 creditor references (the
 * standard's example, every single-character typo and swap of a member reference refused),
 * IBANs (valid, mistyped, the wrong length), the EPC QR payload (line by line, amount rules,
 * the 331-byte cap) and its SVG, the SEPA character set, camt.053 amounts parsed exactly, the
 * FARTHING_BANK_* configuration, and the repository's XSD copies equal to the shared ones.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { parseStatementAmount } from '../../src/banking/camt053.ts';
import { epcPayload, qrSvg } from '../../src/banking/epc-qr.ts';
import { parseMultipart } from '../../src/banking/form-upload.ts';
import { ibanProblem, parseIban } from '../../src/banking/iban.ts';
import {
  electronicRf,
  findRfReferences,
  friendlyRf,
  isValidRfReference,
  makeRfReference,
  parseRfReference,
  randomMemberReference,
  rfCheckDigits,
} from '../../src/banking/rf-reference.ts';
import { sepaText } from '../../src/banking/sepa-text.ts';
import { XSD_DIR } from '../../src/banking/xsd.ts';
import { ConfigError, testConfig } from '../../src/config.ts';
import { SHARED_ISO20022 } from '../helpers/camt.ts';

t.test('RF references: the ISO 11649 example, check digits, typing', async (t) => {
  t.ok(isValidRfReference('RF18539007547034'), 'the standard example');
  t.equal(rfCheckDigits('539007547034'), '18');
  t.equal(makeRfReference('539007547034'), 'RF18539007547034');
  t.equal(parseRfReference('rf18 5390 0754 7034'), 'RF18539007547034', 'spaces and case as people type them');
  t.equal(friendlyRf('RF18539007547034'), 'RF18 5390 0754 7034');
  t.throws(() => parseRfReference('RF19539007547034'), { code: 'invalid_reference' }, 'wrong check digits');
  t.throws(() => parseRfReference('RF18539007547043'), { code: 'invalid_reference' }, 'two digits swapped');
  t.throws(() => parseRfReference('XX18539007547034'), { code: 'invalid_reference' });
  t.throws(() => parseRfReference(42), { code: 'invalid_reference' });
  t.throws(() => parseRfReference(`RF18${'1'.repeat(22)}`), { code: 'invalid_reference' }, 'at most 25 characters');
  t.equal(electronicRf(' rf18 5390\t0754 7034 '), 'RF18539007547034');
});

t.test('a member reference: any single mistyped digit or swap of neighbours is refused', async (t) => {
  const alphabet = '0123456789';
  for (let round = 0; round < 20; round++) {
    const reference = randomMemberReference();
    t.ok(isValidRfReference(reference));
    for (let i = 2; i < reference.length; i++) {
      for (const c of alphabet) {
        if (c === reference[i]) continue;
        const typo = `${reference.slice(0, i)}${c}${reference.slice(i + 1)}`;
        if (isValidRfReference(typo)) t.fail(`${typo} passes for ${reference}`);
      }
      if (i + 1 < reference.length && reference[i] !== reference[i + 1]) {
        const swapped = `${reference.slice(0, i)}${reference[i + 1]}${reference[i]}${reference.slice(i + 2)}`;
        if (isValidRfReference(swapped)) t.fail(`${swapped} passes for ${reference}`);
      }
    }
  }
  t.pass('no typo passed');
});

t.test('references are found in free text, spaced or not, and only valid ones', async (t) => {
  const reference = makeRfReference('123456789012');
  t.same(findRfReferences(`Top-up ${friendlyRf(reference).toLowerCase()} thanks`), [reference]);
  t.same(findRfReferences(`${reference}${reference}`), [reference]);
  t.same(findRfReferences('RF00123456789012 membership'), []);
  t.same(findRfReferences(''), []);
});

t.test('IBANs: valid, mistyped, the wrong length', async (t) => {
  t.equal(parseIban('de89 3704 0044 0532 0130 00'), 'DE89370400440532013000');
  t.equal(parseIban('NL26VAYB8060476890'), 'NL26VAYB8060476890');
  t.match(ibanProblem('DE89370400440532013001') ?? '', /check digits/);
  t.match(ibanProblem('DE8937040044053201300') ?? '', /length/);
  t.match(ibanProblem('XX89370400440532013000') ?? '', /country/);
  t.throws(() => parseIban('DE89 3704 0044 0532 0130 01'), { code: 'invalid_iban' });
  t.throws(() => parseIban(undefined), { code: 'invalid_iban' });
});

t.test('the EPC QR payload, line by line', async (t) => {
  const payload = epcPayload({ name: 'Farthing e.V.', iban: 'DE89370400440532013000', bic: 'COBADEFFXXX', amount: 12_340_000n, reference: 'RF18539007547034' });
  t.same(payload.split('\n'), ['BCD', '002', '1', 'SCT', 'COBADEFFXXX', 'Farthing e.V.', 'DE89370400440532013000', 'EUR12.34', '', 'RF18539007547034']);
  t.same(
    epcPayload({ name: 'A', iban: 'DE89370400440532013000', reference: 'RF18539007547034' }).split('\n').slice(4, 8),
    ['', 'A', 'DE89370400440532013000', ''],
    'no BIC, no amount',
  );
  t.throws(
    () => epcPayload({ name: 'A', iban: 'DE89370400440532013000', amount: 1n, reference: 'RF18539007547034' }),
    { code: 'invalid_amount' },
    'whole cents only',
  );
  t.throws(() => epcPayload({ name: 'A', iban: 'DE89370400440532013000', amount: 1_000_000_000_000_000n, reference: 'RF18539007547034' }), {
    code: 'invalid_amount',
  });
  t.throws(() => epcPayload({ name: 'x'.repeat(71), iban: 'DE89370400440532013000', reference: 'RF18539007547034' }));
  fc.assert(
    fc.property(
      fc.string({ maxLength: 70, unit: 'grapheme' }).filter((s) => s.length > 0 && s.length <= 70),
      (name) => {
        try {
          return Buffer.byteLength(epcPayload({ name, iban: 'DE89370400440532013000', reference: 'RF18539007547034' })) <= 331;
        } catch (error) {
          return error instanceof RangeError;
        }
      },
    ),
  );
  const svg = await qrSvg(payload);
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.notMatch(svg, /<\?xml/);
});

t.test('the SEPA character set', async (t) => {
  t.equal(sepaText('Dora Müller & Söhne', 70), 'Dora Muller + Sohne');
  t.equal(sepaText('Straße 1 <b>', 70), 'Strasse 1 b');
  t.equal(sepaText('张伟', 70), 'NOTPROVIDED');
  t.equal(sepaText('x'.repeat(100), 70).length, 70);
});

t.test('camt.053 amounts are parsed exactly, never as floats', async (t) => {
  t.equal(parseStatementAmount('8.85', 'e'), 8_850_000n);
  t.equal(parseStatementAmount('2700', 'e'), 2_700_000_000n);
  t.equal(parseStatementAmount('+08.50', 'e'), 8_500_000n);
  t.equal(parseStatementAmount('0.10000', 'e'), 100_000n);
  t.equal(parseStatementAmount('.5', 'e'), 500_000n);
  t.equal(parseStatementAmount('0.1', 'e') + parseStatementAmount('0.2', 'e'), 300_000n);
  t.throws(() => parseStatementAmount('1e3', 'e'), { code: 'statement_schema_invalid' });
  t.throws(() => parseStatementAmount('0.0000001', 'e'), { code: 'statement_schema_invalid' });
  t.throws(() => parseStatementAmount('', 'e'), { code: 'statement_schema_invalid' });
});

t.test('FARTHING_BANK_*: checked at start, named when wrong', async (t) => {
  const bank = testConfig({ FARTHING_BANK_IBAN: 'nl26 vayb 8060 4768 90', FARTHING_BANK_BIC: 'vaybnl2a', FARTHING_BANK_HOLDER: 'Farthing e.V.' }).bank;
  t.same(bank, { iban: 'NL26VAYB8060476890', bic: 'VAYBNL2A', holder: 'Farthing e.V.' });
  t.equal(testConfig().bank, undefined);
  const problems = (env: Record<string, string>) => {
    try {
      testConfig(env);
      return '';
    } catch (error) {
      return error instanceof ConfigError ? error.problems.join('\n') : String(error);
    }
  };
  t.match(problems({ FARTHING_BANK_IBAN: 'NL26VAYB8060476891', FARTHING_BANK_HOLDER: 'X' }), /FARTHING_BANK_IBAN .*check digits/);
  t.match(problems({ FARTHING_BANK_IBAN: 'NL26VAYB8060476890' }), /FARTHING_BANK_HOLDER/);
  t.match(problems({ FARTHING_BANK_HOLDER: 'X' }), /FARTHING_BANK_IBAN must be set/);
  t.match(problems({ FARTHING_BANK_IBAN: 'NL26VAYB8060476890', FARTHING_BANK_HOLDER: 'X', FARTHING_BANK_BIC: 'NOPE' }), /FARTHING_BANK_BIC/);
});

t.test('a multipart upload is read into its fields; a broken one is not', async (t) => {
  const body = Buffer.from(
    '--b\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\ntoken\r\n--b\r\nContent-Disposition: form-data; name="statement"; filename="s.xml"\r\n\r\n<a>\r\n</a>\r\n--b--\r\n',
  );
  const parts = parseMultipart(body, 'multipart/form-data; boundary=b');
  t.equal(parts?._csrf, 'token');
  t.equal(parts?.statement?.toString(), '<a>\r\n</a>');
  t.equal(parseMultipart(body, 'multipart/form-data'), undefined);
  t.equal(parseMultipart(body.subarray(0, 60), 'multipart/form-data; boundary=b'), undefined);
});

t.test("the repository's XSDs are the shared ones (the instance reads its own copy)", async (t) => {
  if (!SHARED_ISO20022) {
    t.pass('../shared/iso20022 is not next to the worktree');
    return;
  }
  for (const name of ['camt.053.001.02', 'camt.053.001.08', 'pain.001.001.03', 'pain.001.001.09']) {
    t.equal(readFileSync(`${XSD_DIR}${name}.xsd`, 'utf8'), readFileSync(`${SHARED_ISO20022}${name}.xsd`, 'utf8'), name);
  }
});
