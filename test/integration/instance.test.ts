/**
 * The instance as an operator runs it: the admin from FARTHING_ADMIN, the automatic close after
 * a period ends, and logs that never hold a password or a token.
 */
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { testConfig } from '../../src/config.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { createInstance } from '../../src/instance.ts';
import { freshDatabase } from '../helpers/databases.ts';

t.test('FARTHING_ADMIN creates the admin once; the automatic close runs after the delay', async (t) => {
  const database = await freshDatabase(t, 'pglite');
  const clock = new ManualClock('2026-11-20T00:00:00Z');
  const config = testConfig({ FARTHING_ADMIN: 'root:root-password', FARTHING_AUTO_CLOSE: 'on', FARTHING_CLOSE_DELAY_MINUTES: '10' });
  const first = await createInstance(config, { clock, database });
  await first.close();
  const inst = await createInstance(config, { clock, database });
  t.teardown(() => inst.close());
  const admins = await inst.ctx.db.selectFrom('members').select(['username', 'role']).execute();
  t.same(admins, [{ username: 'root', role: 'admin' }], 'created once, as admin');
  const token = await inst.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { username: 'root', password: 'root-password' } });
  t.equal(token.statusCode, 201);

  // Restarted five minutes after the month ended: too early for the automatic close...
  clock.set('2026-12-01T00:05:00Z');
  const early = await createInstance(config, { clock, database });
  // A worker's first run starts with it, and close() waits for the run in progress: the start-up
  // check has run (and found the close not yet due) once close() returns.
  await early.close();
  t.equal((await inst.ctx.db.selectFrom('closes').selectAll().execute()).length, 0, 'not before the delay');
  // ...and again after the delay: the start-up check closes November.
  clock.set('2026-12-01T00:11:00Z');
  const later = await createInstance(config, { clock, database });
  await later.close(); // waits for the start-up check, which closes November

  const closed = await inst.ctx.db.selectFrom('closes').select('stage').where('period', '=', '2026-11').executeTakeFirst();
  t.equal(closed?.stage, 'done', 'November closed automatically');
});

t.test('close() does not wait on a client still sending a body the server already refused', async (t) => {
  const database = await freshDatabase(t, 'pglite');
  const inst = await createInstance(testConfig({}), { clock: new ManualClock('2026-11-20T00:00:00Z'), database });
  await inst.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = inst.app.server.address() as { port: number };
  // An unsigned settlement message that declares 1 MiB and sends 10 bytes, then nothing more:
  // refused on its headers, and the connection held open by the client.
  const answered = await new Promise<{ status: number; socket: Socket }>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('POST /settlement/inbox HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"type":"F');
    });
    socket.once('data', (chunk) => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1]), socket }));
    socket.once('error', reject);
  });
  t.equal(answered.status, 401, 'refused on its headers');
  const cut = new Promise<void>((resolve) => answered.socket.once('close', () => resolve()));
  answered.socket.on('error', () => {});
  let deadline: NodeJS.Timeout | undefined;
  const within = await Promise.race([
    inst.close().then(() => 'closed' as const),
    new Promise<'still open'>((resolve) => (deadline = setTimeout(() => resolve('still open'), 60_000))),
  ]);
  clearTimeout(deadline);
  t.equal(within, 'closed', 'close() finishes: the held connection is cut after FARTHING_DRAIN_SECONDS (5 s)');
  await cut;
  t.pass('the client sees its connection closed');
});

t.test('logs hold no password and no token', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const database = await freshDatabase(t, 'pglite');
  const inst = await createInstance(testConfig({ FARTHING_REGISTRATION: 'open', LOG_LEVEL: 'trace' }), {
    clock: new ManualClock('2026-11-20T00:00:00Z'),
    database,
    log: pino({ level: 'trace' }, sink),
  });
  t.teardown(() => inst.close());
  const password = 'a-secret-password-123';
  await inst.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { username: 'ann', password } });
  const token = JSON.parse((await inst.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { username: 'ann', password } })).body).token;
  await inst.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } });
  await inst.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { username: 'ann', password: 'wrong-password' } });
  t.ok(lines.length > 3, 'requests were logged');
  const all = lines.join('\n');
  t.notOk(all.includes(password), 'no password');
  t.notOk(all.includes(token), 'no token');
});

t.test('a verified token is remembered briefly, but a revoked or expired one stops at once', async (t) => {
  const database = await freshDatabase(t, 'pglite');
  const clock = new ManualClock('2026-11-20T00:00:00Z');
  const inst = await createInstance(testConfig(), { clock, database });
  t.teardown(() => inst.close());
  const { registerMember } = await import('../../src/members/service.ts');
  const { authenticateToken, issueToken, revokeToken } = await import('../../src/members/tokens.ts');
  const ann = await registerMember(inst.ctx, { username: 'ann', password: 'ann-password' }, { bypassRegistration: true });
  const api = await issueToken(inst.ctx, ann.id, 'api');
  t.equal((await authenticateToken(inst.ctx, api, 'api')).username, 'ann');
  t.equal((await authenticateToken(inst.ctx, api, 'api')).username, 'ann', 'again, from memory');
  await t.rejects(authenticateToken(inst.ctx, api, 'session'), { code: 'unauthorized' }, 'an API token is not a session');
  await revokeToken(inst.ctx, api);
  await t.rejects(authenticateToken(inst.ctx, api, 'api'), { code: 'unauthorized' }, 'revoked: refused at once');
  const session = await issueToken(inst.ctx, ann.id, 'session', 60_000);
  t.equal((await authenticateToken(inst.ctx, session, 'session')).username, 'ann');
  clock.advance(61_000);
  await t.rejects(authenticateToken(inst.ctx, session, 'session'), { code: 'unauthorized' }, 'expired: refused although remembered');
});
