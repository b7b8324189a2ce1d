/**
 * Card top-ups through Stripe Checkout, against a local fake of the Stripe API (the official client
 * pointed at it with host, port and protocol), with webhooks signed as Stripe signs them. The
 * instance bears the card fee (the default), then the member does (the same database under a second
 * configuration), then card payments are off.
 * One instance per database; the ledger self-check runs after every step.
 */

import type { Test } from 'tap';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { testConfig } from '../../src/config.ts';
import { checkLedger } from '../../src/ledger/check.ts';
import { eachDatabase, rowCount } from '../helpers/databases.ts';
import { fakeStripeEnv, startFakeStripe } from '../helpers/fake-stripe.ts';
import { startWeb, type WebInstance } from '../helpers/web.ts';

const fake = await startFakeStripe();
t.teardown(() => fake.close());

async function balanced(t: Test, inst: WebInstance, when: string) {
  const check = await checkLedger(inst.ctx.db);
  t.ok(check.balanced, `ledger self-check ${when}: ${JSON.stringify(check.checks.filter((c) => !c.ok))}`);
}

function webhook(inst: WebInstance, event: { body: string; signature?: string }, headers: Record<string, string> = {}) {
  return inst.app
    .inject({
      method: 'POST',
      url: '/stripe/webhook',
      payload: event.body,
      headers: { 'content-type': 'application/json; charset=utf-8', ...(event.signature ? { 'stripe-signature': event.signature } : {}), ...headers },
    })
    .then((r) => ({ status: r.statusCode, body: JSON.parse(r.body) }));
}

const balanceOf = async (inst: WebInstance, token: string) => (await inst.api('GET', '/api/v1/me', { token })).body.balance as string;
const transfers = async (inst: WebInstance) => Number((await checkLedger(inst.ctx.db)).transfers);

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind, { env: fakeStripeEnv(fake) });
  const { api, adminToken } = inst;
  const alice = await inst.member('alice');

  const topup = async (token: string, amount: string) => {
    const r = await api('POST', '/api/v1/me/topups', { token, body: { amount } });
    t.equal(r.status, 201, `top-up of ${amount}: ${r.text}`);
    const row = await inst.ctx.db.selectFrom('card_topups').selectAll().where('id', '=', r.body.id).executeTakeFirstOrThrow();
    return { ...r.body, session: row.session_id as string };
  };

  let first: { id: string; session: string; checkout_url: string };
  let firstCharge: string;

  await t.test('a top-up is stored with its session before the member is sent to Stripe', async (t) => {
    first = await topup(alice, '20.00');
    t.match(first.checkout_url, /^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
    const row = await inst.ctx.db.selectFrom('card_topups').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
    t.equal(row.state, 'open');
    t.equal(row.amount, 20_000_000n);
    t.equal(row.currency, 'EUR');
    t.equal(row.fee_bearer, 'instance');
    const session = fake.sessions.get(first.session);
    t.equal(session?.amount_total, 2000, 'Stripe is asked for 2000 cents');
    t.equal(session?.currency, 'eur');
    t.equal(session?.client_reference_id, first.id);
    t.equal(session?.success_url, `https://a.example/wallet/topup/done?topup=${first.id}`);
    const mine = await api('GET', '/api/v1/me/topups', { token: alice });
    t.equal(mine.body.items.length, 1);
    t.equal(mine.body.items[0].state, 'open');
    await balanced(t, inst, 'after a top-up is opened');
  });

  await t.test('amounts out of bounds, finer than a cent or not strings are refused and store nothing', async (t) => {
    const before = await rowCount(inst.ctx.db, 'card_topups');
    for (const amount of ['4.99', '500.01', '20.001', '0', '-5.00', 20, 'abc', null]) {
      const r = await api('POST', '/api/v1/me/topups', { token: alice, body: { amount } });
      t.equal(r.status, 400, `${JSON.stringify(amount)} is refused`);
      t.equal(r.body.error.code, 'invalid_amount');
    }
    t.equal((await api('POST', '/api/v1/me/topups', { body: { amount: '10.00' } })).status, 401);
    const after = await rowCount(inst.ctx.db, 'card_topups');
    t.equal(after, before);
  });

  await t.test('forged, tampered, stale and unsigned webhooks are refused and record nothing', async (t) => {
    fake.pay(first.session, { fee: 55 });
    const object = { id: first.session, object: 'checkout.session' };
    const forged = fake.signedEvent('checkout.session.completed', object, { secret: 'whsec_someoneelse000' });
    const r1 = await webhook(inst, forged);
    t.equal(r1.status, 400);
    t.equal(r1.body.error.code, 'invalid_signature');
    const genuine = fake.signedEvent('checkout.session.completed', object);
    const tampered = await webhook(inst, { body: genuine.body.replace(first.session, 'cs_test_other'), signature: genuine.signature });
    t.equal(tampered.status, 400, 'a body changed after signing');
    const stale = fake.signedEvent('checkout.session.completed', object, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    t.equal((await webhook(inst, stale)).status, 400, 'older than the tolerance');
    t.equal((await webhook(inst, { body: genuine.body })).status, 400, 'no signature');
    t.equal((await webhook(inst, { body: genuine.body, signature: 't=1,v1=00' })).status, 400, 'a made-up signature');
    t.equal((await webhook(inst, { body: '', signature: genuine.signature })).status, 400, 'no body');
    t.equal(await balanceOf(inst, alice), '0.00');
    t.equal((await inst.ctx.db.selectFrom('stripe_events').selectAll().execute()).length, 0);
    await balanced(t, inst, 'after forgeries');
  });

  await t.test("the signed checkout.session.completed credits the stored amount once; the fee is the instance's", async (t) => {
    // the body lies about the amount and the member: only the stored session counts
    const event = fake.signedEvent('checkout.session.completed', {
      id: first.session,
      object: 'checkout.session',
      amount_total: 999_999,
      client_reference_id: 'someone',
      metadata: { farthing_topup: 'x' },
    });
    const r = await webhook(inst, event);
    t.equal(r.status, 200);
    t.equal(r.body.outcome, 'credited');
    t.equal(await balanceOf(inst, alice), '20.00', 'credited gross: the instance bears the fee');
    const mine = (await api('GET', '/api/v1/me/topups', { token: alice })).body.items[0];
    t.match(mine, { state: 'credited', fee: '0.55', credited: '20.00', fee_bearer: 'instance', checkout_url: null });
    const ledger = (await api('GET', '/api/v1/me/ledger', { token: alice })).body.items;
    t.match(ledger, [{ kind: 'deposit', direction: 'in', amount: '20.00', reference: `stripe:${first.session}` }]);
    firstCharge = (await inst.ctx.db.selectFrom('card_topups').select('charge_id').where('id', '=', first.id).executeTakeFirstOrThrow()).charge_id as string;
    t.ok(firstCharge.startsWith('ch_test_'));
    await balanced(t, inst, 'after the credit');

    const count = await transfers(inst);
    const replay = await webhook(inst, event);
    t.equal(replay.body.outcome, 'duplicate', 'the same event again');
    const again = await webhook(inst, fake.signedEvent('checkout.session.completed', { id: first.session }));
    t.equal(again.body.outcome, 'already_credited', 'another event for the same session');
    const async = await webhook(inst, fake.signedEvent('checkout.session.async_payment_succeeded', { id: first.session }));
    t.equal(async.body.outcome, 'already_credited');
    t.equal(await transfers(inst), count, 'replays record nothing');
    t.equal(await balanceOf(inst, alice), '20.00');
    const card = (await api('GET', '/api/v1/admin/card-topups', { token: adminToken })).body.items[0];
    t.match(card, { username: 'alice', fee: '0.55', credited: '20.00', state: 'credited', session_id: first.session });
    await balanced(t, inst, 'after replays');
  });

  await t.test('an unpaid session, a session of someone else and unrelated events credit nothing', async (t) => {
    const open = await topup(alice, '7.50');
    const unpaid = await webhook(inst, fake.signedEvent('checkout.session.completed', { id: open.session }));
    t.equal(unpaid.body.outcome, 'not_paid');
    const stranger = await webhook(inst, fake.signedEvent('checkout.session.completed', { id: 'cs_test_notours' }));
    t.equal(stranger.body.outcome, 'unknown_session');
    const early = await webhook(inst, fake.signedEvent('checkout.session.expired', { id: open.session }));
    t.equal(early.body.outcome, 'not_expired', 'Stripe says the session is still open');
    fake.expire(open.session);
    t.equal((await webhook(inst, fake.signedEvent('checkout.session.expired', { id: open.session }))).body.outcome, 'expired');
    t.match(
      (await api('GET', '/api/v1/me/topups', { token: alice })).body.items.find((x: { id: string }) => x.id === open.id),
      { state: 'failed', checkout_url: null },
    );
    const other = await webhook(inst, fake.signedEvent('customer.created', { id: 'cus_1' }));
    t.equal(other.body.outcome, 'ignored');
    t.equal(await balanceOf(inst, alice), '20.00');
    await balanced(t, inst, 'after events that credit nothing');
  });

  await t.test('a paid session whose amount disagrees with the stored one is not credited and shown to the admin', async (t) => {
    const odd = await topup(alice, '10.00');
    fake.pay(odd.session, { amountTotal: 500, fee: 20 });
    const r = await webhook(inst, fake.signedEvent('checkout.session.completed', { id: odd.session, amount_total: 1000 }));
    t.equal(r.body.outcome, 'review');
    t.equal(await balanceOf(inst, alice), '20.00');
    const review = (await api('GET', '/api/v1/admin/card-topups?state=review', { token: adminToken })).body.items;
    t.equal(review.length, 1);
    t.match(review[0], { id: odd.id, username: 'alice', state: 'review', problem: /amount_mismatch/ });
    const again = await webhook(inst, fake.signedEvent('checkout.session.completed', { id: odd.session }));
    t.equal(again.body.outcome, 'already_review');
    const currency = await topup(alice, '10.00');
    fake.pay(currency.session, { currency: 'usd', fee: 20 });
    t.equal((await webhook(inst, fake.signedEvent('checkout.session.completed', { id: currency.session }))).body.outcome, 'review', 'another currency');
    t.equal(await balanceOf(inst, alice), '20.00');
    await balanced(t, inst, 'after mismatches');
  });

  await t.test('a refund leaves the wallet; one the wallet cannot cover books what it holds and shows the shortfall', async (t) => {
    fake.refund(firstCharge, 500);
    const r = await webhook(inst, fake.signedEvent('charge.refunded', { id: firstCharge, object: 'charge', amount_refunded: 2000 }));
    t.equal(r.body.outcome, 'refund_booked', 'the amount comes from the charge Stripe answers, not the body');
    t.equal(await balanceOf(inst, alice), '15.00');
    const replay = await webhook(inst, fake.signedEvent('charge.refunded', { id: firstCharge }));
    t.equal(replay.body.outcome, 'already_booked');
    t.equal(await balanceOf(inst, alice), '15.00');
    await balanced(t, inst, 'after a refund');

    // alice takes 12.00 out; then Stripe refunds the other 15.00
    t.equal((await api('POST', '/api/v1/me/payouts', { token: alice, body: { amount: '12.00' } })).status, 201);
    fake.refund(firstCharge, 1500);
    const short = await webhook(inst, fake.signedEvent('charge.refunded', { id: firstCharge }));
    t.equal(short.body.outcome, 'refund_shortfall');
    t.equal(await balanceOf(inst, alice), '0.00', 'what the wallet held is taken, no more');
    const shortfalls = (await api('GET', '/api/v1/admin/card-reversals?shortfall=true', { token: adminToken })).body.items;
    t.equal(shortfalls.length, 1);
    t.match(shortfalls[0], { username: 'alice', kind: 'refund', amount: '15.00', booked: '3.00', shortfall: '12.00', topup_id: first.id });
    const all = (await api('GET', '/api/v1/admin/card-reversals', { token: adminToken })).body.items;
    t.equal(all.length, 2);
    t.equal((await api('GET', '/api/v1/me/topups', { token: alice })).body.items.find((x: { id: string }) => x.id === first.id).refunded, '20.00');
    await balanced(t, inst, 'after a refund with a shortfall');
  });

  await t.test('deliveries racing for one session credit it once', async (t) => {
    const fay = await inst.member('fay');
    const top = await topup(fay, '30.00');
    fake.pay(top.session, { fee: 70 });
    const events = Array.from({ length: 6 }, () => fake.signedEvent('checkout.session.completed', { id: top.session }));
    const outcomes = (await Promise.all(events.map((e) => webhook(inst, e)))).map((r) => r.body.outcome).sort();
    t.equal(outcomes.filter((o) => o === 'credited').length, 1, `one credit among ${outcomes.join(', ')}`);
    t.equal(await balanceOf(inst, fay), '30.00');
    const deposits = await inst.ctx.db
      .selectFrom('transfers')
      .select('amount')
      .where('reference', '=', `stripe:${top.session}`)
      .where('kind', '=', 'deposit')
      .execute();
    t.equal(deposits.length, 1);
    await balanced(t, inst, 'after racing deliveries');
  });

  await t.test('a refund reported before the credit is booked with the credit', async (t) => {
    const erin = await inst.member('erin');
    const top = await topup(erin, '10.00');
    const charge = fake.pay(top.session, { fee: 40 });
    fake.refund(charge.id, 300);
    t.equal((await webhook(inst, fake.signedEvent('charge.refunded', { id: charge.id }))).body.outcome, 'unknown_charge');
    t.equal((await webhook(inst, fake.signedEvent('checkout.session.completed', { id: top.session }))).body.outcome, 'credited');
    t.equal(await balanceOf(inst, erin), '7.00');
    await balanced(t, inst, 'after a refund that came first');
  });

  await t.test('a lost dispute leaves the wallet once; a won one changes nothing', async (t) => {
    const bob = await inst.member('bob');
    const top = await topup(bob, '10.00');
    const charge = fake.pay(top.session, { fee: 40 });
    t.equal((await webhook(inst, fake.signedEvent('checkout.session.completed', { id: top.session }))).body.outcome, 'credited');
    const won = fake.dispute(charge.id, 400, 'won');
    t.equal(
      (await webhook(inst, fake.signedEvent('charge.dispute.closed', { id: won, status: 'lost' }))).body.outcome,
      'dispute_not_lost',
      'the status comes from Stripe',
    );
    const lost = fake.dispute(charge.id, 400, 'lost');
    t.equal((await webhook(inst, fake.signedEvent('charge.dispute.closed', { id: lost }))).body.outcome, 'dispute_booked');
    t.equal(await balanceOf(inst, bob), '6.00');
    t.equal((await webhook(inst, fake.signedEvent('charge.dispute.closed', { id: lost }))).body.outcome, 'already_booked');
    t.equal(await balanceOf(inst, bob), '6.00');
    await balanced(t, inst, 'after disputes');
  });

  await t.test('pages: the wallet form, the success and cancel pages, the admin page with the shortfall', async (t) => {
    const browser = inst.browser();
    await browser.signIn('alice');
    const wallet = await browser.get('/payouts');
    t.equal(wallet.status, 200);
    t.match(wallet.text, /action="\/wallet\/topup"/);
    t.match(String(wallet.headers['content-security-policy']), /form-action 'self' https:\/\/checkout\.stripe\.com/);
    const bad = await browser.post('/wallet/topup', { amount: '1.00' });
    t.equal(bad.status, 400);
    t.match(bad.text, /invalid_amount/);
    const go = await browser.post('/wallet/topup', { amount: '25.00' });
    t.equal(go.status, 303);
    t.match(go.location, /^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
    const id = (
      await inst.ctx.db
        .selectFrom('card_topups')
        .select('id')
        .where('checkout_url', '=', go.location as string)
        .executeTakeFirstOrThrow()
    ).id;
    const done = await browser.get(`/wallet/topup/done?topup=${id}`);
    t.equal(done.status, 200);
    t.match(done.text, /25\.00/);
    const mine = await browser.get('/wallet/topup');
    t.equal(mine.status, 200);
    t.match(mine.text, /<td class="num">0\.55<\/td><td>the instance<\/td>/, 'the fee of each top-up, and who paid it');
    const cancelled = await browser.get(`/wallet/topup/cancelled?topup=${id}`);
    t.equal(cancelled.status, 200);
    t.match(cancelled.text, /nothing was charged/i);
    t.equal((await browser.get('/wallet/topup/done?topup=not-an-id')).status, 404);
    const bobs = await inst.ctx.db
      .selectFrom('card_topups')
      .innerJoin('members', 'members.id', 'card_topups.member_id')
      .select('card_topups.id')
      .where('members.username', '=', 'bob')
      .executeTakeFirstOrThrow();
    t.equal((await browser.get(`/wallet/topup/done?topup=${bobs.id}`)).status, 404, "another member's top-up");

    const admin = inst.browser();
    await admin.signIn('admin', 'admin-password');
    const page = await admin.get('/admin/cards');
    t.equal(page.status, 200);
    t.match(page.text, /12\.00/, 'the shortfall');
    t.match(page.text, /amount_mismatch/, 'the top-up held for review');
    t.match(page.text, /0\.55/, 'the fee of a deposit');
    t.equal((await browser.get('/admin/cards')).status, 403);
    await balanced(t, inst, 'after the pages');
  });

  // The same database under two other configurations (no second instance to start): the member
  // bears the fee, and card payments off.
  const env = { FARTHING_ORIGIN: 'https://a.example', FARTHING_REGISTRATION: 'open', ...fakeStripeEnv(fake) };
  const appWith = async (extra: Record<string, string>, base: Record<string, string> = env) => {
    const app = await buildApp({ ...inst.ctx, config: testConfig({ ...base, ...extra }) });
    t.teardown(() => app.close());
    return app;
  };

  await t.test('when the member bears the fee the wallet is credited net of it; a full refund shows the fee as shortfall', async (t) => {
    const memberApp = await appWith({ FARTHING_CARD_FEE_BEARER: 'member' });
    const dave = await inst.member('dave');
    const create = await memberApp.inject({
      method: 'POST',
      url: '/api/v1/me/topups',
      headers: { authorization: `Bearer ${dave}` },
      payload: { amount: '20.00' },
    });
    t.equal(create.statusCode, 201);
    const id = JSON.parse(create.body).id as string;
    const row = await inst.ctx.db.selectFrom('card_topups').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    t.equal(row.fee_bearer, 'member', 'who bears the fee is fixed when the top-up is made');
    const charge = fake.pay(row.session_id as string, { fee: 55 });
    const cardFeesBefore = (await checkLedger(inst.ctx.db)).transfers;
    t.equal((await webhook(inst, fake.signedEvent('checkout.session.completed', { id: row.session_id }))).body.outcome, 'credited');
    t.equal(await balanceOf(inst, dave), '19.45');
    t.equal((await checkLedger(inst.ctx.db)).transfers, cardFeesBefore + 1, 'one deposit of the net amount, no fee transfer');
    t.match((await api('GET', '/api/v1/me/topups', { token: dave })).body.items[0], { fee: '0.55', credited: '19.45', fee_bearer: 'member' });
    await balanced(t, inst, 'after a net credit');
    fake.refund(charge.id, 2000);
    t.equal((await webhook(inst, fake.signedEvent('charge.refunded', { id: charge.id }))).body.outcome, 'refund_shortfall');
    t.equal(await balanceOf(inst, dave), '0.00');
    const shortfall = (await api('GET', '/api/v1/admin/card-reversals?shortfall=true', { token: adminToken })).body.items.find(
      (r: { username: string }) => r.username === 'dave',
    );
    t.match(shortfall, { amount: '20.00', booked: '19.45', shortfall: '0.55' });

    // a fee Stripe does not show (no balance transaction yet) holds the top-up for the admin
    const unknown = await memberApp.inject({
      method: 'POST',
      url: '/api/v1/me/topups',
      headers: { authorization: `Bearer ${dave}` },
      payload: { amount: '10.00' },
    });
    const unknownRow = await inst.ctx.db.selectFrom('card_topups').selectAll().where('id', '=', JSON.parse(unknown.body).id).executeTakeFirstOrThrow();
    fake.pay(unknownRow.session_id as string, { fee: null });
    t.equal((await webhook(inst, fake.signedEvent('checkout.session.completed', { id: unknownRow.session_id }))).body.outcome, 'review');
    t.match((await api('GET', '/api/v1/admin/card-topups?state=review', { token: adminToken })).body.items, [{ id: unknownRow.id, problem: /fee_unknown/ }]);
    t.equal(await balanceOf(inst, dave), '0.00');
    await balanced(t, inst, 'after a refund of a net credit');
  });

  await t.test('when Stripe does not answer: 503, nothing credited, and the redelivery credits', async (t) => {
    const broken = await appWith({ FARTHING_STRIPE_SECRET_KEY: 'sk_test_revokedkey0000' });
    const gus = await inst.member('gus');
    const refused = await broken.inject({
      method: 'POST',
      url: '/api/v1/me/topups',
      headers: { authorization: `Bearer ${gus}` },
      payload: { amount: '10.00' },
    });
    t.equal(refused.statusCode, 503);
    t.equal(JSON.parse(refused.body).error.code, 'unavailable');
    t.match(
      await inst.ctx.db
        .selectFrom('card_topups')
        .innerJoin('members', 'members.id', 'card_topups.member_id')
        .select(['state', 'session_id'])
        .where('members.username', '=', 'gus')
        .execute(),
      [{ state: 'failed', session_id: null }],
    );
    t.same(
      (await api('GET', '/api/v1/me/topups', { token: gus })).body.items.map((x: { state: string }) => x.state),
      ['failed'],
    );

    const top = await topup(gus, '10.00');
    fake.pay(top.session, { fee: 40 });
    const event = fake.signedEvent('checkout.session.completed', { id: top.session });
    const down = await broken.inject({
      method: 'POST',
      url: '/stripe/webhook',
      headers: { 'content-type': 'application/json', 'stripe-signature': event.signature },
      payload: event.body,
    });
    t.equal(down.statusCode, 503, 'Stripe will deliver again');
    t.equal(await balanceOf(inst, gus), '0.00');
    t.equal((await webhook(inst, event)).body.outcome, 'credited', 'the same event, delivered again');
    t.equal(await balanceOf(inst, gus), '10.00');
    await balanced(t, inst, 'after Stripe was down');
  });

  await t.test('without the Stripe secrets there are no card top-ups and no webhook', async (t) => {
    const off = await appWith({}, { FARTHING_ORIGIN: 'https://a.example' });
    const r = await off.inject({ method: 'POST', url: '/api/v1/me/topups', headers: { authorization: `Bearer ${alice}` }, payload: { amount: '10.00' } });
    t.equal(r.statusCode, 404);
    t.equal(JSON.parse(r.body).error.code, 'cards_disabled');
    const event = fake.signedEvent('checkout.session.completed', { id: 'cs_test_x' });
    const hook = await off.inject({
      method: 'POST',
      url: '/stripe/webhook',
      headers: { 'content-type': 'application/json', 'stripe-signature': event.signature },
      payload: event.body,
    });
    t.equal(hook.statusCode, 404);
    t.equal(JSON.parse(hook.body).error.code, 'cards_disabled');
    await balanced(t, inst, 'with card payments off');
  });
});

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind, { env: fakeStripeEnv(fake) });
  const { api } = inst;
  await t.test("a top-up past the ledger's maximum balance is refused before anyone pays", async (t) => {
    const rich = await inst.member('rich', { deposit: '999999999995.00' });
    const tooMuch = await api('POST', '/api/v1/me/topups', { token: rich, body: { amount: '10.00' } });
    t.equal(tooMuch.status, 422, tooMuch.text);
    t.equal(tooMuch.body.error.code, 'amount_too_large');
    t.equal((await inst.ctx.db.selectFrom('card_topups').select('id').execute()).length, 0, 'nothing stored, no session opened');
    t.equal((await api('POST', '/api/v1/me/topups', { token: rich, body: { amount: '5.00' } })).status, 201, 'up to the maximum is fine');
  });
});
