/**
 * The shared input schemas (src/core/input.ts) and the pages' formInput (src/web/forms.ts): a form
 * that does not fit is refused with the AppError the API would answer and the services used to
 * throw (code, message, details.field), and what fits arrives parsed (a bigint, a tidied string).
 */
import t from 'tap';
import { z } from 'zod';
import { BudgetInput } from '../../src/budgets/service.ts';
import { AppError } from '../../src/core/errors.ts';
import { parseInput, requestError, rule } from '../../src/core/input.ts';
import { parseAmount } from '../../src/core/money.ts';
import { LinkInput } from '../../src/links/links.ts';
import { ProfileAboutInput } from '../../src/members/profile.ts';
import { SignUpInput } from '../../src/members/service.ts';
import { ThingTitleInput } from '../../src/things/edit.ts';
import { DepositInput, PayoutInput } from '../../src/wallet/service.ts';
import { formInput } from '../../src/web/forms.ts';
import { PreferencesForm } from '../../src/web/preferences.ts';

function refusal(fn: () => unknown): { code: string; message: string; field: unknown } | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message, field: error.details?.field };
    throw error;
  }
  return undefined;
}

function amountRefusal(input: unknown) {
  return refusal(() => parseAmount(input));
}

t.test('an amount arrives in micro-units, or is refused as parseAmount refuses it', async (t) => {
  t.same(formInput(BudgetInput, { amount: '5.25', _csrf: 'x' }), { amount: 5_250_000n }, 'parsed; the CSRF field is dropped');
  for (const bad of ['lots', '', '-1', '1.2345678', '99999999999999', undefined, ['1.00', '2.00']]) {
    t.same(
      refusal(() => formInput(BudgetInput, { amount: bad })),
      amountRefusal(bad),
      `${JSON.stringify(bad)}: the words of parseAmount`,
    );
  }
  t.same(
    refusal(() => formInput(BudgetInput, { amount: '9999999999999' })),
    amountRefusal('9999999999999'),
    'past the maximum',
  );
  t.same(
    refusal(() => formInput(PayoutInput, { amount: '0' })),
    { code: 'invalid_amount', message: 'amount must be greater than zero', field: undefined },
  );
});

t.test("a rule's refusal is the AppError it threw; text is checked as the input guard checks it", async (t) => {
  t.same(
    refusal(() => formInput(DepositInput, { username: 'ann', amount: '1.00', reference: '  ' })),
    {
      code: 'invalid_request',
      message: 'reference must be a non-empty string of at most 200 characters',
      field: 'reference',
    },
  );
  t.same(formInput(DepositInput, { username: 'ann', amount: '1.00', reference: ' bank 1 ' }), { username: 'ann', amount: 1_000_000n, reference: 'bank 1' });
  t.same(
    refusal(() => formInput(LinkInput, { account: 'x\r\ny' })),
    {
      code: 'invalid_request',
      message: 'account contains the control character U+000D',
      field: 'account',
    },
  );
  t.same(
    refusal(() => formInput(LinkInput, {})),
    { code: 'invalid_request', message: 'account is required', field: 'account' },
  );
  const Note = z.object({ note: rule(z.string(), (v) => v.trim(), { multiline: true }) });
  t.same(parseInput(Note, { note: ' a\r\nb ' }), { note: 'a\r\nb' }, 'a multi-line field keeps its lines');
  t.same(
    refusal(() => parseInput(Note, { note: 'a\u0000' })),
    { code: 'invalid_request', message: 'note contains the control character U+0000', field: 'note' },
  );
});

t.test('page-only forms: the thing title and the checkboxes', async (t) => {
  t.same(formInput(ThingTitleInput, { title: '  Hello   world ' }), { title: 'Hello world' });
  t.same(formInput(ThingTitleInput, { title: '' }), { title: null }, 'empty clears');
  t.same(
    refusal(() => formInput(ThingTitleInput, {})),
    { code: 'invalid_request', message: 'title is required (empty clears it)', field: 'title' },
  );
  t.same(formInput(PreferencesForm, {}), { listed: false, publish_flattrs: false }, 'absent boxes are unticked');
  t.same(formInput(PreferencesForm, { listed: 'on' }), { listed: true, publish_flattrs: false });
  t.same(
    refusal(() => formInput(PreferencesForm, { listed: 'yes' })),
    {
      code: 'invalid_request',
      message: 'listed is a checkbox: "on" or absent',
      field: 'listed',
    },
  );
});

t.test('parseInput names the part it read', async (t) => {
  t.same(
    refusal(() => parseInput(DepositInput, { amount: '1.00', reference: 'r' }, 'arguments')),
    {
      code: 'invalid_request',
      message: 'username is required',
      field: 'username',
    },
  );
});

t.test("a rule with API words: the page and the CLI show the rule's AppError, the API its own words", async (t) => {
  const apiRefusal = (data: unknown) => {
    const result = SignUpInput.safeParse(data, { reportInput: true });
    if (result.success) return undefined;
    const error = requestError(SignUpInput, result.error, 'body', data, true);
    return { code: error.code, message: error.message, field: error.details?.field };
  };
  t.same(
    refusal(() => formInput(SignUpInput, { username: 'no spaces', password: 'long-password' })),
    { code: 'invalid_request', message: 'username must be 1 to 30 letters, digits or underscores', field: 'username' },
  );
  t.same(apiRefusal({ username: 'no spaces', password: 'long-password' }), {
    code: 'invalid_request',
    message: 'username: must be 1 to 30 letters, digits or underscores',
    field: 'username',
  });
  t.same(
    apiRefusal({ username: 'ann\u0000', password: 'long-password' }),
    {
      code: 'invalid_request',
      message: 'username: must be 1 to 30 letters, digits or underscores',
      field: 'username',
    },
    'the rule before the text, as the API checked it',
  );
  t.same(
    apiRefusal({ username: 'ann', password: 'long\u0000password' }),
    { code: 'invalid_request', message: 'password contains the control character U+0000', field: 'password' },
    'a password that fits the rule: the text words, as the input guard said them',
  );
  t.same(formInput(SignUpInput, { username: 'ann', password: 'long-password', _csrf: 'x' }), { username: 'ann', password: 'long-password' });
});

t.test("the profile page's about form: an absent field is cleared (null), as the page did", async (t) => {
  t.same(formInput(ProfileAboutInput, { display_name: ' Cat ', _csrf: 'x' }), { display_name: 'Cat', bio: null });
  t.same(formInput(ProfileAboutInput, {}), { display_name: null, bio: null });
});
