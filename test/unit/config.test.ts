import t from 'tap';
import { loadConfig } from '../../src/config.ts';

t.test('defaults follow the API contract', async (t) => {
  const config = loadConfig({});
  t.equal(config.port, 3000);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.origin, 'http://localhost:3000');
  t.equal(config.currency, 'EUR');
  t.equal(config.feePpm, 100_000n);
  t.equal(config.minBudget, 2_000_000n);
  t.equal(config.maxBudget, 100_000_000n);
  t.equal(config.idleBudget, 'charity');
  t.equal(config.registration, 'invite');
  t.equal(config.dataDir, './data');
  t.equal(config.databaseUrl, undefined);
});

t.test('every invalid value stops the start with a message naming it', async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ FARTHING_CURRENCY: 'euro' }, 'FARTHING_CURRENCY'],
    [{ FARTHING_FEE_PERCENT: '51' }, 'FARTHING_FEE_PERCENT'],
    [{ FARTHING_FEE_PERCENT: '-1' }, 'FARTHING_FEE_PERCENT'],
    [{ FARTHING_MIN_BUDGET: '2,00' }, 'FARTHING_MIN_BUDGET'],
    [{ FARTHING_MIN_BUDGET: '50', FARTHING_MAX_BUDGET: '10' }, 'FARTHING_MAX_BUDGET'],
    [{ FARTHING_IDLE_BUDGET: 'burn' }, 'FARTHING_IDLE_BUDGET'],
    [{ FARTHING_REGISTRATION: 'maybe' }, 'FARTHING_REGISTRATION'],
    [{ FARTHING_ADMIN: 'nopassword' }, 'FARTHING_ADMIN'],
    [{ FARTHING_ORIGIN: 'flattr.example' }, 'FARTHING_ORIGIN'],
    [{ FARTHING_ORIGIN: 'https://flattr.example/farthing' }, 'FARTHING_ORIGIN'],
    [{ FARTHING_DRAIN_SECONDS: '-1' }, 'FARTHING_DRAIN_SECONDS'],
    [{ FARTHING_DRAIN_SECONDS: '301' }, 'FARTHING_DRAIN_SECONDS'],
    [{ FARTHING_SHUTDOWN_SECONDS: '0' }, 'FARTHING_SHUTDOWN_SECONDS'],
    [{ FARTHING_SHUTDOWN_SECONDS: '2.5' }, 'FARTHING_SHUTDOWN_SECONDS'],
    [{ FARTHING_ORIGIN: 'https://flattr.example/?x=1' }, 'FARTHING_ORIGIN'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ FARTHING_NOW: 'yesterday' }, 'FARTHING_NOW'],
    [{ FARTHING_NOW: '2026-11-01T00:00:00Z', NODE_ENV: 'production' }, 'FARTHING_NOW'],
    [{ FARTHING_PEERS: 'b.example' }, 'FARTHING_PEERS'],
    [{ FARTHING_PEERS: 'https://b.example/path' }, 'FARTHING_PEERS'],
    [{ FARTHING_PEERS: 'https://b.example,ftp://c.example' }, 'FARTHING_PEERS'],
    [{ FARTHING_PEERS: 'https://user:pw@b.example' }, 'FARTHING_PEERS'],
  ];
  for (const [env, name] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message: new RegExp(name) }, `${JSON.stringify(env)} names ${name}`);
  }
});

t.test('decimals in the fee, admin passwords with colons, origin without trailing slash', async (t) => {
  const config = loadConfig({ FARTHING_FEE_PERCENT: '7.5', FARTHING_ADMIN: 'root:pass:word:1', FARTHING_ORIGIN: 'https://flattr.example/' });
  t.equal(config.feePpm, 75_000n);
  t.same(config.admin, { username: 'root', password: 'pass:word:1' });
  t.equal(config.origin, 'https://flattr.example');
});

t.test('the shutdown limit: 10 s unless FARTHING_SHUTDOWN_SECONDS says', async (t) => {
  t.equal(loadConfig({}).shutdownLimitMs, 10_000);
  t.equal(loadConfig({ FARTHING_SHUTDOWN_SECONDS: '30' }).shutdownLimitMs, 30_000);
});

t.test('FARTHING_PEERS: origins, comma-separated, written as origins', async (t) => {
  t.same(loadConfig({}).peers, []);
  t.same(loadConfig({ FARTHING_PEERS: 'https://b.example, https://C.example/,http://127.0.0.1:3001,https://b.example' }).peers, [
    'https://b.example',
    'https://c.example',
    'http://127.0.0.1:3001',
  ]);
});

t.test('card top-ups: both Stripe secrets or neither, bounds, fee bearer, the fake API only outside production', async (t) => {
  const secrets = { FARTHING_STRIPE_SECRET_KEY: 'sk_test_abcdefgh12', FARTHING_STRIPE_WEBHOOK_SECRET: 'whsec_abcdefgh12' };
  t.equal(loadConfig({}).cards, undefined, 'off by default');
  const cards = loadConfig(secrets).cards;
  t.match(cards, { feeBearer: 'instance', minTopup: 5_000_000n, maxTopup: 500_000_000n, apiUrl: undefined });
  t.equal(loadConfig({ ...secrets, FARTHING_CARD_FEE_BEARER: 'member' }).cards?.feeBearer, 'member');
  const cases: [Record<string, string>, string][] = [
    [{ FARTHING_STRIPE_SECRET_KEY: secrets.FARTHING_STRIPE_SECRET_KEY }, 'FARTHING_STRIPE_WEBHOOK_SECRET'],
    [{ FARTHING_STRIPE_WEBHOOK_SECRET: secrets.FARTHING_STRIPE_WEBHOOK_SECRET }, 'FARTHING_STRIPE_SECRET_KEY'],
    [{ ...secrets, FARTHING_STRIPE_SECRET_KEY: 'pk_test_abcdefgh12' }, 'FARTHING_STRIPE_SECRET_KEY'],
    [{ ...secrets, FARTHING_CARD_FEE_BEARER: 'nobody' }, 'FARTHING_CARD_FEE_BEARER'],
    [{ ...secrets, FARTHING_CARD_MIN_TOPUP: '0' }, 'FARTHING_CARD_MIN_TOPUP'],
    [{ ...secrets, FARTHING_CARD_MIN_TOPUP: '50.00', FARTHING_CARD_MAX_TOPUP: '10.00' }, 'FARTHING_CARD_MAX_TOPUP'],
    [{ ...secrets, FARTHING_STRIPE_API_URL: 'http://127.0.0.1:1', NODE_ENV: 'production' }, 'FARTHING_STRIPE_API_URL'],
  ];
  for (const [env, name] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message: new RegExp(name) }, `${JSON.stringify(env)} names ${name}`);
  }
  try {
    loadConfig({ FARTHING_STRIPE_SECRET_KEY: 'sk_live_not valid secret', FARTHING_STRIPE_WEBHOOK_SECRET: 'whsec_abcdefgh12' });
    t.fail('a malformed key is refused');
  } catch (error) {
    t.notMatch((error as Error).message, /not valid secret/, 'a secret is never echoed');
  }
});

t.test('FARTHING_TOKEN_IDLE_HOURS: whole hours from 1 to 87600, 30 days by default', async (t) => {
  t.equal(loadConfig({}).tokenIdleMs, 720 * 3_600_000);
  t.equal(loadConfig({ FARTHING_TOKEN_IDLE_HOURS: '2' }).tokenIdleMs, 2 * 3_600_000);
  for (const value of ['0', '1.5', 'forever', '87601']) {
    t.throws(() => loadConfig({ FARTHING_TOKEN_IDLE_HOURS: value }), { name: 'ConfigError', message: /FARTHING_TOKEN_IDLE_HOURS/ }, value);
  }
});
