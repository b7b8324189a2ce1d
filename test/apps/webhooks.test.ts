/**
 * Webhooks (issue 6): signed deliveries (HMAC-SHA256 over timestamp and body, so a tampered body
 * or a replayed timestamp fails), written with what caused them, retried with backoff against a
 * local receiver as the clock moves, and listed with their last status. Without
 * FARTHING_ALLOW_PRIVATE_ADDRESS nothing private is called, whether written as an address (in any
 * spelling) or reached through a name, and the status the member sees then is only "refused".
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import t from 'tap';
import { createOutboundClient } from '../../src/net/outbound.ts';
import { deliverDueWebhooks, RETRY_SCHEDULE_SECONDS } from '../../src/webhooks/delivery.ts';
import { signWebhookBody, verifyWebhookSignature } from '../../src/webhooks/signature.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, type TestInstance, thing } from '../helpers/instance.ts';

t.test('a signature verifies; a tampered body, timestamp or secret fails', async (t) => {
  const secret = 'whsec_test';
  const body = '{"event":"payout.paid","data":{"amount":"10.00"}}';
  const at = new Date('2026-11-10T12:00:00Z');
  const header = signWebhookBody(secret, body, at);
  t.match(header, /^t=1794312000,v1=[0-9a-f]{64}$/);
  t.ok(verifyWebhookSignature(secret, header, body, at, 300));
  t.ok(verifyWebhookSignature(secret, header, body, new Date(at.getTime() + 299_000), 300), 'within the tolerance');
  t.notOk(verifyWebhookSignature(secret, header, body.replace('10.00', '99.00'), at, 300), 'tampered body');
  t.notOk(verifyWebhookSignature(secret, header.replace('t=1794312000', 't=1794312060'), body, new Date(at.getTime() + 60_000), 300), 'tampered timestamp');
  t.notOk(verifyWebhookSignature(secret, header, body, new Date(at.getTime() + 301_000), 300), 'replayed after the tolerance');
  t.notOk(verifyWebhookSignature('whsec_other', header, body, at, 300), 'another secret');
  t.notOk(verifyWebhookSignature(secret, undefined, body, at, 300));
  t.notOk(verifyWebhookSignature(secret, 'v1=abc', body, at, 300));
  t.ok(verifyWebhookSignature(secret, `${header},v1=${'0'.repeat(64)}`, body, at, 300), 'one matching v1 of several is enough');
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1 that answers the given statuses in turn (then 200). */
async function receiver(t: Test, statuses: number[]): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = statuses.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

/** Delivers until the delivery has been attempted `attempts` times (the background worker may do it too). */
async function attempted(inst: TestInstance, deliveryKey: { event: string }, attempts: number) {
  for (let i = 0; i < 200; i++) {
    await deliverDueWebhooks(inst.ctx);
    const row = await inst.ctx.db.selectFrom('webhook_deliveries').selectAll().where('event', '=', deliveryKey.event).executeTakeFirst();
    if (row && row.attempts >= attempts && row.claimed_until === null) return row;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${deliveryKey.event} was not attempted ${attempts} times`);
}

await eachDatabase(t, async (t, kind) => {
  t.test('registering: http(s) only, no private addresses, known events; the secret shown once', async (t) => {
    const inst = await startInstance(t, kind);
    const { api } = inst;
    const member = await inst.member('creator');
    const post = (body: unknown) => api('POST', '/api/v1/webhooks', { token: member, body });
    t.equal((await post({ url: 'ftp://hooks.example/', events: ['payout.paid'] })).body.error.code, 'invalid_request');
    for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'https://10.1.2.3/', 'http://[::1]/', 'http://192.168.1.1/']) {
      const refused = await post({ url, events: ['payout.paid'] });
      t.equal(refused.status, 400, url);
      t.match(refused.body.error.message, /private/, url);
    }
    t.equal((await post({ url: 'https://hooks.example/', events: ['flattr.given'] })).body.error.code, 'invalid_request');
    t.equal((await post({ url: 'https://hooks.example/', events: [] })).status, 400);
    const created = await post({ url: 'https://hooks.example/farthing#frag', events: ['period.closed', 'flattr.received'] });
    t.equal(created.status, 201, created.text);
    t.match(created.body, { url: 'https://hooks.example/farthing', events: ['flattr.received', 'period.closed'], secret: /^whsec_/ });
    const list = await api('GET', '/api/v1/webhooks', { token: member });
    t.same(
      list.body.items.map((h: { id: string }) => h.id),
      [created.body.id],
    );
    t.notOk('secret' in list.body.items[0], 'the secret is not listed');
    t.equal(list.body.items[0].last_delivery, null);
    const other = await inst.member('other');
    t.equal((await api('DELETE', `/api/v1/webhooks/${created.body.id}`, { token: other })).status, 404, "another member's hook");
    t.equal((await api('DELETE', `/api/v1/webhooks/${created.body.id}`, { token: member })).status, 204);
    t.equal((await api('DELETE', `/api/v1/webhooks/${created.body.id}`, { token: member })).status, 404);
    t.same((await api('GET', '/api/v1/webhooks', { token: member })).body.items, []);
  });

  t.test('payout.paid: signed, retried with backoff as the clock moves, last status listed', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_ALLOW_PRIVATE_ADDRESS: '1' } });
    const { api, adminToken } = inst;
    const { url, received } = await receiver(t, [500, 503]);
    const member = await inst.member('payee', { deposit: '20.00' });
    const hook = await api('POST', '/api/v1/webhooks', { token: member, body: { url, events: ['payout.paid'] } });
    t.equal(hook.status, 201, hook.text);
    const secret = hook.body.secret as string;
    const payout = await api('POST', '/api/v1/me/payouts', { token: member, body: { amount: '10.00' } });
    t.equal(payout.status, 201, payout.text);
    t.equal((await api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: adminToken, body: { reference: 'SEPA-1' } })).status, 200);
    t.equal((await api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: adminToken, body: { reference: 'SEPA-1' } })).status, 200);

    let row = await attempted(inst, { event: 'payout.paid' }, 1);
    t.equal(received.length, 1, 'one attempt, and one event although paid was said twice');
    t.match(row, { state: 'pending', last_status: '500' });
    let listed = (await api('GET', '/api/v1/webhooks', { token: member })).body.items[0].last_delivery;
    t.match(listed, { event: 'payout.paid', state: 'pending', status: '500', attempts: 1, attempted_at: inst.clock.now().toISOString() });
    t.equal(listed.next_attempt_at, new Date(inst.clock.now().getTime() + 30_000).toISOString(), 'the first retry after 30 s');

    await deliverDueWebhooks(inst.ctx);
    t.equal(received.length, 1, 'no retry before its time');
    inst.clock.advance(30_000);
    row = await attempted(inst, { event: 'payout.paid' }, 2);
    t.match(row, { state: 'pending', last_status: '503' });
    inst.clock.advance(60_000);
    await deliverDueWebhooks(inst.ctx);
    t.equal(received.length, 2, 'the second retry waits 2 minutes');
    inst.clock.advance(60_000);
    row = await attempted(inst, { event: 'payout.paid' }, 3);
    t.match(row, { state: 'delivered', last_status: '200' });
    t.equal(received.length, 3);
    listed = (await api('GET', '/api/v1/webhooks', { token: member })).body.items[0].last_delivery;
    t.match(listed, { state: 'delivered', status: '200', attempts: 3, next_attempt_at: null });

    for (const r of received) {
      t.ok(verifyWebhookSignature(secret, r.headers['farthing-signature'] as string, r.body, inst.clock.now(), 300), 'each attempt is signed');
      t.equal(r.headers['farthing-event'], 'payout.paid');
      t.equal(r.headers['farthing-delivery'], row.id);
      t.equal(r.headers['content-type'], 'application/json');
    }
    const body = JSON.parse(received[2]?.body ?? '{}');
    t.match(body, { event: 'payout.paid', data: { id: payout.body.id, amount: '10.00', state: 'paid', reference: 'SEPA-1' } });
    t.notOk(
      verifyWebhookSignature(
        secret,
        received[2]?.headers['farthing-signature'] as string,
        received[2]?.body.replace('10.00', '11.00') ?? '',
        inst.clock.now(),
        300,
      ),
      'a tampered delivery fails',
    );
  });

  t.test('a delivery that keeps failing is retried on the schedule, then failed', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_ALLOW_PRIVATE_ADDRESS: '1' } });
    const { url, received } = await receiver(t, Array(10).fill(500));
    const member = await inst.member('payee', { deposit: '20.00' });
    t.equal((await inst.api('POST', '/api/v1/webhooks', { token: member, body: { url, events: ['payout.paid'] } })).status, 201);
    const payout = await inst.api('POST', '/api/v1/me/payouts', { token: member, body: { amount: '10.00' } });
    await inst.api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: inst.adminToken, body: { reference: 'SEPA-2' } });
    let row = await attempted(inst, { event: 'payout.paid' }, 1);
    for (const [i, wait] of RETRY_SCHEDULE_SECONDS.entries()) {
      inst.clock.advance(wait * 1000);
      row = await attempted(inst, { event: 'payout.paid' }, i + 2);
    }
    t.equal(received.length, 6, 'the first attempt and five retries');
    t.match(row, { state: 'failed', attempts: 6, last_status: '500' });
    inst.clock.advance(86_400_000);
    await deliverDueWebhooks(inst.ctx);
    t.equal(received.length, 6, 'never again');
    t.match((await inst.api('GET', '/api/v1/webhooks', { token: member })).body.items[0].last_delivery, { state: 'failed', status: '500', attempts: 6 });
  });

  t.test('period.closed: what the member was charged and earned, written by the close', async (t) => {
    const inst = await startInstance(t, kind, { now: '2026-01-10T12:00:00Z', env: { FARTHING_ALLOW_PRIVATE_ADDRESS: '1' } });
    const { api } = inst;
    const { url, received } = await receiver(t, []);
    const reader = await inst.member('reader', { deposit: '10.00', budget: '5.00' });
    const creator = await inst.member('creator', { deposit: '10.00' });
    const idle = await inst.member('idle');
    for (const token of [reader, creator, idle]) {
      t.equal((await api('POST', '/api/v1/webhooks', { token, body: { url, events: ['period.closed'] } })).status, 201);
    }
    const blog = await thing(inst, creator, 'https://creator.example/');
    t.equal((await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: blog } })).status, 201);
    inst.clock.set('2026-02-01T00:10:00Z');
    t.equal((await api('POST', '/api/v1/admin/periods/2026-01/close', { token: inst.adminToken })).status, 200);
    const rows = await inst.ctx.db.selectFrom('webhook_deliveries').selectAll().execute();
    t.equal(rows.length, 2, 'the reader (charged) and the creator (charged and credited); not the idle member');
    for (let i = 0; i < 200 && received.length < 2; i++) {
      await deliverDueWebhooks(inst.ctx);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const bodies = received.map((r) => JSON.parse(r.body).data).sort((a, b) => b.charged.localeCompare(a.charged));
    t.same(bodies, [
      { period: '2026-01', charged: '5.00', earned: '0.00', held: '0.00', flattrs: 1 },
      { period: '2026-01', charged: '2.00', earned: '4.50', held: '0.00', flattrs: 0 },
    ]);
  });

  t.test('flattr.received: a local thing of the member was flattred', async (t) => {
    const inst = await startInstance(t, kind);
    const { api } = inst;
    const creator = await inst.member('creator');
    const reader = await inst.member('reader', { deposit: '10.00' });
    t.equal((await api('POST', '/api/v1/webhooks', { token: creator, body: { url: 'https://hooks.example/', events: ['flattr.received'] } })).status, 201);
    const blog = await thing(inst, creator, 'https://creator.example/');
    const flattr = await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: blog } });
    t.equal(flattr.status, 201);
    const rows = await inst.ctx.db.selectFrom('webhook_deliveries').selectAll().where('event', '=', 'flattr.received').execute();
    t.equal(rows.length, 1);
    t.match(JSON.parse(rows[0]?.body ?? '{}'), { event: 'flattr.received', data: { thing: { id: blog }, flattr_id: flattr.body.id, period: '2026-11' } });
  });
});

await eachDatabase(t, async (t, kind) => {
  t.test('the instance is no port scanner: refused addresses are refused by address, and say only "refused"', async (t) => {
    const inst = await startInstance(t, kind);
    const { url: local, received } = await receiver(t, Array(20).fill(500));
    const port = new URL(local).port;
    // A name that resolves to loopback (as a DNS record an attacker controls would).
    inst.ctx.outbound = createOutboundClient({ allowPrivateAddress: false, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    const member = await inst.member('payee', { deposit: '40.00' });
    const post = (url: string) => inst.api('POST', '/api/v1/webhooks', { token: member, body: { url, events: ['payout.paid'] } });
    for (const url of [
      'http://[::ffff:a9fe:a9fe]/meta',
      `http://[::ffff:127.0.0.1]:${port}/hook`,
      `http://[64:ff9b::7f00:1]:${port}/`,
      'http://[2002:a9fe:a9fe::]/',
      'http://192.0.2.1/',
      'http://198.18.0.1/',
      'http://100.64.0.1/',
      'http://240.0.0.1/',
      'http://224.0.0.1/',
    ]) {
      const refused = await post(url);
      t.equal(refused.status, 400, `${url} refused when registered`);
      t.match(refused.body.error.message, /private address/);
    }
    const byName = await post(`http://hooks.example:${port}/hook`);
    t.equal(byName.status, 201, 'a name is judged when it is called');
    // One row as an older instance could have kept it: the metadata service through an IPv4-mapped literal.
    const older = await post('https://hooks.example/older');
    await inst.ctx.db.updateTable('webhooks').set({ url: 'http://[::ffff:a9fe:a9fe]/meta' }).where('id', '=', older.body.id).execute();

    const payout = await inst.api('POST', '/api/v1/me/payouts', { token: member, body: { amount: '10.00' } });
    await inst.api('POST', `/api/v1/admin/payouts/${payout.body.id}/paid`, { token: inst.adminToken, body: { reference: 'SEPA-3' } });
    let rows: { last_status: string | null; attempts: number }[] = [];
    for (let i = 0; i < 400; i++) {
      await deliverDueWebhooks(inst.ctx);
      rows = await inst.ctx.db.selectFrom('webhook_deliveries').select(['last_status', 'attempts']).where('event', '=', 'payout.paid').execute();
      if (rows.length === 2 && rows.every((r) => r.attempts >= 1)) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    t.same(
      rows.map((r) => r.last_status),
      ['refused', 'refused'],
      'no status code, no error code from the target',
    );
    t.equal(received.length, 0, 'the receiver on loopback (answering 500) was never reached');
    const listed = (await inst.api('GET', '/api/v1/webhooks', { token: member })).body.items as { last_delivery: { status: string } }[];
    t.same(
      listed.map((h) => h.last_delivery.status),
      ['refused', 'refused'],
      'what the member sees',
    );
  });
});
