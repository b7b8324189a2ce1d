/**
 * FARTHING_TRUST_PROXY decides request.ip, on which the sign-in limit counts (issue 14): unset,
 * no proxy is trusted, so a client that sends a new X-Forwarded-For with every guess is still one
 * address and meets 429 (it used to be trusted whenever NODE_ENV=production); with the proxy in
 * front named, each forwarded address counts on its own. Every guess names another username, so
 * only the per-address limit is tried here.
 */
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, type TestInstance } from '../helpers/instance.ts';

const LIMIT = 20;

/** `count` wrong guesses sent at once (the limit's window is real time: a slow machine must not spread them out). */
async function guesses(inst: TestInstance, count: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const answer = await inst.api('POST', '/api/v1/tokens', {
        body: { username: `guess${i}`, password: 'wrong-password' },
        headers: { 'x-forwarded-for': `198.51.100.${i + 1}` },
      });
      return answer.status;
    }),
  );
}

t.test('the setting: unset trusts no proxy, in production too; hop counts and CIDRs are checked', async (t) => {
  t.equal(loadConfig({ NODE_ENV: 'production' }).trustProxy, false);
  t.equal(loadConfig({ FARTHING_TRUST_PROXY: '1' }).trustProxy, 1);
  t.same(loadConfig({ FARTHING_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8,loopback' }).trustProxy, [
    '127.0.0.1',
    '10.0.0.0/8',
    '::1',
    'fd00::/8',
    'loopback',
  ]);
  for (const value of ['true', '0', '11', '10.0.0.0/99', 'proxy.example', '127.0.0.1,,', '1.2.3']) {
    t.throws(() => loadConfig({ FARTHING_TRUST_PROXY: value }), { name: 'ConfigError', message: /FARTHING_TRUST_PROXY/ }, value);
  }
});

await eachDatabase(t, async (t, kind) => {
  t.test('unset: X-Forwarded-For is ignored, 30 guesses from "changing" addresses meet 429', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_AUTH_RATE_LIMIT: String(LIMIT) } });
    const statuses = await guesses(inst, 30);
    // At least those past the limit are 429 (@fastify/rate-limit may answer a whole burst 429).
    t.ok(statuses.filter((s) => s === 429).length >= 30 - LIMIT, `past the limit, 429: ${statuses.join(',')}`);
    t.same(
      [...new Set(statuses)].filter((s) => s !== 401 && s !== 429),
      [],
      'nothing else',
    );
    const next = await guesses(inst, 1);
    t.same(next, [429], 'and one more, from yet another "forwarded" address, too: it is one address');
  });

  t.test('the proxy named: each forwarded client counts on its own', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_AUTH_RATE_LIMIT: String(LIMIT), FARTHING_TRUST_PROXY: '127.0.0.1' } });
    const statuses = await guesses(inst, 30);
    t.same([...new Set(statuses)], [401], 'no 429: they are 30 clients behind the proxy');
  });
});
