/**
 * The only reader of process.env. Validates the environment (and an optional .env file) once at
 * start and answers a frozen Config; an invalid value stops the start with a message naming it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { electronicFormatIBAN } from 'ibantools';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { ibanProblem, normalizeBic } from './banking/iban.ts';
import { parseAmount, percentToPpm } from './core/money.ts';

const amountString = (name: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      try {
        return parseAmount(value, name);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be an amount such as "2.00", got "${value}"` });
        return z.NEVER;
      }
    });

const flag = z
  .enum(['1', '0', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true');

/** Names proxy-addr (fastify's trustProxy) knows for common ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * FARTHING_TRUST_PROXY: which proxies may say, in X-Forwarded-For, who the client is. Unset: none
 * (request.ip is the peer's address, whatever a client sends). A hop count (1: the one proxy in
 * front), or a comma list of addresses/CIDRs (and loopback, linklocal, uniquelocal).
 */
const trustProxy = z
  .string()
  .optional()
  .transform((value, ctx): false | number | string[] => {
    if (value === undefined) return false;
    if (/^[0-9]+$/.test(value)) {
      const hops = Number(value);
      if (hops >= 1 && hops <= 10) return hops;
      ctx.addIssue({ code: 'custom', message: 'as a hop count must be from 1 to 10' });
      return z.NEVER;
    }
    const entries = value.split(',').map((e) => e.trim());
    const bad = entries.filter((e) => !PROXY_RANGE_NAMES.includes(e) && !isAddressOrCidr(e));
    if (bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a hop count (1-10) or a comma list of addresses/CIDRs such as 127.0.0.1,10.0.0.0/8; not an address or CIDR: ${bad.map((b) => `"${b}"`).join(', ')}`,
      });
      return z.NEVER;
    }
    return entries;
  });

function isAddressOrCidr(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  if (!address || !isIP(address) || rest.length > 0) return false;
  if (bits === undefined) return true;
  try {
    ipaddr.parseCIDR(entry);
    return /^[0-9]{1,3}$/.test(bits);
  } catch {
    return false;
  }
}

const EnvSchema = z
  .object({
    NODE_ENV: z.string().default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    FARTHING_ORIGIN: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) origin such as https://flattr.example' })
      .refine((value) => {
        const url = URL.parse(value);
        return !url || (url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password);
      }, 'must be an origin only (scheme, host and port), such as https://flattr.example: Farthing is served at the root of its host')
      .optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string')
      .optional(),
    FARTHING_DATA_DIR: z.string().min(1).default('./data'),
    FARTHING_DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
    FARTHING_CURRENCY: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR')
      .default('EUR'),
    FARTHING_FEE_PERCENT: z
      .string()
      .default('10')
      .refine((v) => /^[0-9]{1,2}(\.[0-9]{1,4})?$/.test(v) && Number(v) <= 50, 'must be a number from 0 to 50 (at most four decimals)'),
    FARTHING_MIN_BUDGET: amountString('FARTHING_MIN_BUDGET', '2.00'),
    FARTHING_MAX_BUDGET: amountString('FARTHING_MAX_BUDGET', '100.00'),
    FARTHING_MIN_PAYOUT: amountString('FARTHING_MIN_PAYOUT', '10.00'),
    FARTHING_IDLE_BUDGET: z.enum(['charity', 'keep']).default('charity'),
    FARTHING_REGISTRATION: z.enum(['open', 'invite', 'closed']).default('invite'),
    FARTHING_ADMIN: z
      .string()
      .regex(/^[A-Za-z0-9_]{1,30}:.{8,}$/, 'must be username:password with a password of at least 8 characters')
      .optional(),
    FARTHING_ALLOW_PRIVATE_ADDRESS: flag,
    FARTHING_TRUST_PROXY: trustProxy,
    FARTHING_NOW: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 instant such as 2026-11-15T12:00:00Z' }).optional(),
    FARTHING_AUTO_CLOSE: z.enum(['on', 'off']).default('on'),
    FARTHING_CLOSE_DELAY_MINUTES: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60)
      .default(10),
    FARTHING_INVITES_PER_MEMBER: z.coerce.number().int().min(0).max(1000).default(3),
    FARTHING_TEST_FAST_HASHING: flag,
    FARTHING_AUTH_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(20),
    FARTHING_DRAIN_SECONDS: z.coerce.number().int('must be a whole number of seconds').min(0).max(300, 'must be at most 300').default(5),
    FARTHING_SHUTDOWN_SECONDS: z.coerce
      .number()
      .int('must be a whole number of seconds')
      .min(1, 'must be at least 1')
      .max(600, 'must be at most 600')
      .default(10),
    FARTHING_TOKEN_IDLE_HOURS: z.coerce
      .number()
      .int('must be a whole number of hours')
      .min(1, 'must be at least 1 (hour)')
      .max(87_600, 'must be at most 87600 (ten years)')
      .default(720),
    FARTHING_SETTLEMENT_AUTO_ACCEPT: z.enum(['on', 'off']).default('on'),
    FARTHING_NOTIFY_UNCLAIMED: z.enum(['on', 'off']).default('on'),
    FARTHING_PEERS: z
      .string()
      .default('')
      .refine((v) => parsePeers(v) !== null, 'must be origins of instances such as https://b.example, separated by commas'),
    FARTHING_API_RATE_LIMIT: z.coerce.number().int().min(1).max(10_000_000).default(300),
    // The instance's bank account for deposits by transfer and SEPA payout files (src/banking/).
    FARTHING_BANK_IBAN: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        const problem = value === undefined ? undefined : ibanProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: `must be the instance's IBAN, but it ${problem}` });
      })
      .transform((value) => (value === undefined ? undefined : (electronicFormatIBAN(value) as string))),
    FARTHING_BANK_BIC: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        if (value !== undefined && !normalizeBic(value))
          ctx.addIssue({ code: 'custom', message: 'must be a BIC of 8 or 11 letters and digits, such as COBADEFFXXX' });
      })
      .transform((value) => (value === undefined ? undefined : normalizeBic(value))),
    FARTHING_BANK_HOLDER: z
      .string()
      .trim()
      .max(70, 'must be the account holder of FARTHING_BANK_IBAN, at most 70 characters')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
      .refine((value) => !/[\u0000-\u001f\u007f-\u009f]/.test(value), 'must not contain control characters')
      .optional(),
    // Card top-ups through Stripe Checkout (src/cards): both secrets or neither.
    FARTHING_STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_[A-Za-z0-9_]{8,200}$/, 'must be a Stripe secret key (sk_… or rk_…)')
      .optional(),
    FARTHING_STRIPE_WEBHOOK_SECRET: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=_]{8,200}$/, "must be the webhook endpoint's signing secret (whsec_…)")
      .optional(),
    FARTHING_CARD_FEE_BEARER: z.enum(['member', 'instance']).default('instance'),
    FARTHING_CARD_MIN_TOPUP: amountString('FARTHING_CARD_MIN_TOPUP', '5.00'),
    FARTHING_CARD_MAX_TOPUP: amountString('FARTHING_CARD_MAX_TOPUP', '500.00'),
    FARTHING_STRIPE_API_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL such as http://127.0.0.1:12111' }).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.FARTHING_MIN_BUDGET <= 0n) {
      ctx.addIssue({ code: 'custom', path: ['FARTHING_MIN_BUDGET'], message: 'must be greater than zero' });
    }
    // The close computes share * fee in bigint; this cap keeps that product far inside int8.
    if (env.FARTHING_MAX_BUDGET > 1_000_000_000_000n) {
      ctx.addIssue({ code: 'custom', path: ['FARTHING_MAX_BUDGET'], message: 'must be at most 1000000.00' });
    }
    if (env.FARTHING_MAX_BUDGET < env.FARTHING_MIN_BUDGET) {
      ctx.addIssue({ code: 'custom', path: ['FARTHING_MAX_BUDGET'], message: 'must not be below FARTHING_MIN_BUDGET' });
    }
    if (env.FARTHING_TEST_FAST_HASHING && env.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['FARTHING_TEST_FAST_HASHING'],
        message: 'weakens password hashing for tests and is refused when NODE_ENV=production',
      });
    }
    if (env.FARTHING_BANK_IBAN && !env.FARTHING_BANK_HOLDER) {
      ctx.addIssue({
        code: 'custom',
        path: ['FARTHING_BANK_HOLDER'],
        message: 'must name the holder of FARTHING_BANK_IBAN (transfers and SEPA files need it)',
      });
    }
    if (!env.FARTHING_BANK_IBAN && (env.FARTHING_BANK_HOLDER || env.FARTHING_BANK_BIC)) {
      ctx.addIssue({ code: 'custom', path: ['FARTHING_BANK_IBAN'], message: 'must be set when FARTHING_BANK_HOLDER or FARTHING_BANK_BIC is' });
    }
    if (Boolean(env.FARTHING_STRIPE_SECRET_KEY) !== Boolean(env.FARTHING_STRIPE_WEBHOOK_SECRET)) {
      const missing = env.FARTHING_STRIPE_SECRET_KEY ? 'FARTHING_STRIPE_WEBHOOK_SECRET' : 'FARTHING_STRIPE_SECRET_KEY';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'must be set too: card top-ups need both Stripe secrets (or neither)' });
    }
    if (env.FARTHING_CARD_MIN_TOPUP <= 0n) {
      ctx.addIssue({ code: 'custom', path: ['FARTHING_CARD_MIN_TOPUP'], message: 'must be greater than zero' });
    }
    if (env.FARTHING_CARD_MAX_TOPUP < env.FARTHING_CARD_MIN_TOPUP || env.FARTHING_CARD_MAX_TOPUP > 1_000_000_000_000n) {
      ctx.addIssue({ code: 'custom', path: ['FARTHING_CARD_MAX_TOPUP'], message: 'must be from FARTHING_CARD_MIN_TOPUP to 1000000.00' });
    }
    if (env.FARTHING_STRIPE_API_URL && env.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['FARTHING_STRIPE_API_URL'],
        message: 'points the Stripe client elsewhere for development and tests only and is refused when NODE_ENV=production',
      });
    }
    if (env.FARTHING_NOW && env.NODE_ENV === 'production') {
      ctx.addIssue({ code: 'custom', path: ['FARTHING_NOW'], message: 'is for development and tests only and is refused when NODE_ENV=production' });
    }
  });

export interface Config {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly origin: string;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** Connections to PostgreSQL per process. */
  readonly dbPoolSize: number;
  readonly currency: string;
  /** The instance fee in parts per million of a share. */
  readonly feePpm: bigint;
  readonly minBudget: bigint;
  readonly maxBudget: bigint;
  readonly minPayout: bigint;
  readonly idleBudget: 'charity' | 'keep';
  readonly registration: 'open' | 'invite' | 'closed';
  readonly admin: { readonly username: string; readonly password: string } | undefined;
  readonly allowPrivateAddress: boolean;
  /** fastify's trustProxy: false (no proxy: X-Forwarded-For is ignored), a hop count, or addresses/CIDRs. */
  readonly trustProxy: false | number | readonly string[];
  readonly now: Date | undefined;
  readonly autoClose: boolean;
  readonly closeDelayMinutes: number;
  readonly invitesPerMember: number;
  /**
   * Password attempts per minute: per address (failed ones, every password entry point together)
   * and per account (all of them); sign-up attempts per minute and address.
   */
  readonly authRateLimit: number;
  /** A session or a token made with a password ends when unused this long (ms). */
  readonly tokenIdleMs: number;
  /** At shutdown, requests in flight get this long before their connections are cut. */
  readonly drainMs: number;
  /** The whole shutdown's limit (npm start): past it the process exits 1, naming the step it waited for. */
  readonly shutdownLimitMs: number;
  /** Whether a received statement from a trusted peer that reconciles is accepted without the admin. */
  readonly settlementAutoAccept: boolean;
  /** Whether the instance actor tells fediverse accounts of money waiting for them (issue 13). */
  readonly notifyUnclaimed: boolean;
  /** Origins of instances trusted for settlement from the start (FARTHING_PEERS). */
  readonly peers: readonly string[];
  /** JSON API requests per minute and bearer token (or IP address, without a token). */
  readonly apiRateLimit: number;
  /** Card top-ups through Stripe Checkout; undefined when the Stripe secrets are not set. */
  readonly cards: CardsConfig | undefined;
  /** Tests only: argon2id with minimal cost, so a test can register hundreds of members. */
  readonly fastPasswordHashing: boolean;
  readonly logLevel: string;
  /** The instance's bank account (FARTHING_BANK_*): deposits by transfer, SEPA payout files; unset: arranged with the admin. */
  readonly bank: BankAccount | undefined;
}

export interface BankAccount {
  /** Electronic format, checked. */
  readonly iban: string;
  readonly bic: string | undefined;
  readonly holder: string;
}

/**
 * FARTHING_PEERS: comma-separated http(s) origins (no path, query or credentials), written as
 * the origin ("https://b.example", a trailing slash tolerated); null when one is not an origin.
 */
export function parsePeers(value: string): string[] | null {
  const origins: string[] = [];
  for (const item of value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')) {
    const url = URL.parse(item);
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash || url.pathname !== '/')
      return null;
    if (item.replace(/\/$/, '').toLowerCase() !== url.origin) return null;
    if (!origins.includes(url.origin)) origins.push(url.origin);
  }
  return origins;
}

export interface CardsConfig {
  readonly secretKey: string;
  readonly webhookSecret: string;
  /** Who pays Stripe's fee: the member (wallet credited net of it) or the instance (credited gross). */
  readonly feeBearer: 'member' | 'instance';
  readonly minTopup: bigint;
  readonly maxTopup: bigint;
  /** Development and tests only: the Stripe API at another address (a local fake). */
  readonly apiUrl: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads KEY=value lines; values already in the environment win. */
export function readDotEnv(path = '.env'): Record<string, string> {
  if (!existsSync(path)) return {};
  const values: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    let value = match[2] as string;
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    values[match[1] as string] = value;
  }
  return values;
}

export function loadConfig(env: Record<string, string | undefined> = { ...readDotEnv(), ...process.env }): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || 'environment';
        // a secret is never echoed, not even a malformed one
        const got = cleaned[name] === undefined || /SECRET/.test(name) ? '' : ` (got "${cleaned[name]}")`;
        return `${name} ${issue.message}${got}`;
      }),
    );
  }
  const e = parsed.data;
  const [adminUser, ...adminPassword] = e.FARTHING_ADMIN?.split(':') ?? [];
  return Object.freeze({
    production: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    // The canonical origin (lower-case host, no default port, no trailing slash): every IRI this
    // instance mints starts with it, and src/core/iris.ts reads IRIs back by exact prefix.
    origin: new URL(e.FARTHING_ORIGIN ?? `http://localhost:${e.PORT}`).origin,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.FARTHING_DATA_DIR,
    dbPoolSize: e.FARTHING_DB_POOL_SIZE,
    currency: e.FARTHING_CURRENCY,
    feePpm: percentToPpm(e.FARTHING_FEE_PERCENT),
    minBudget: e.FARTHING_MIN_BUDGET,
    maxBudget: e.FARTHING_MAX_BUDGET,
    minPayout: e.FARTHING_MIN_PAYOUT,
    idleBudget: e.FARTHING_IDLE_BUDGET,
    registration: e.FARTHING_REGISTRATION,
    admin: adminUser ? { username: adminUser, password: adminPassword.join(':') } : undefined,
    allowPrivateAddress: e.FARTHING_ALLOW_PRIVATE_ADDRESS,
    trustProxy: e.FARTHING_TRUST_PROXY,
    now: e.FARTHING_NOW ? new Date(e.FARTHING_NOW) : undefined,
    autoClose: e.FARTHING_AUTO_CLOSE === 'on',
    closeDelayMinutes: e.FARTHING_CLOSE_DELAY_MINUTES,
    invitesPerMember: e.FARTHING_INVITES_PER_MEMBER,
    authRateLimit: e.FARTHING_AUTH_RATE_LIMIT,
    tokenIdleMs: e.FARTHING_TOKEN_IDLE_HOURS * 60 * 60 * 1000,
    drainMs: e.FARTHING_DRAIN_SECONDS * 1000,
    shutdownLimitMs: e.FARTHING_SHUTDOWN_SECONDS * 1000,
    apiRateLimit: e.FARTHING_API_RATE_LIMIT,
    settlementAutoAccept: e.FARTHING_SETTLEMENT_AUTO_ACCEPT === 'on',
    notifyUnclaimed: e.FARTHING_NOTIFY_UNCLAIMED === 'on',
    peers: Object.freeze(parsePeers(e.FARTHING_PEERS) ?? []),
    cards:
      e.FARTHING_STRIPE_SECRET_KEY && e.FARTHING_STRIPE_WEBHOOK_SECRET
        ? Object.freeze({
            secretKey: e.FARTHING_STRIPE_SECRET_KEY,
            webhookSecret: e.FARTHING_STRIPE_WEBHOOK_SECRET,
            feeBearer: e.FARTHING_CARD_FEE_BEARER,
            minTopup: e.FARTHING_CARD_MIN_TOPUP,
            maxTopup: e.FARTHING_CARD_MAX_TOPUP,
            apiUrl: e.FARTHING_STRIPE_API_URL,
          })
        : undefined,
    fastPasswordHashing: e.FARTHING_TEST_FAST_HASHING,
    logLevel: e.LOG_LEVEL,
    bank:
      e.FARTHING_BANK_IBAN && e.FARTHING_BANK_HOLDER
        ? Object.freeze({ iban: e.FARTHING_BANK_IBAN, bic: e.FARTHING_BANK_BIC, holder: e.FARTHING_BANK_HOLDER })
        : undefined,
  });
}

/** A configuration for tests and tools: the defaults, with overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    FARTHING_AUTO_CLOSE: 'off',
    LOG_LEVEL: 'silent',
    FARTHING_AUTH_RATE_LIMIT: '100000',
    FARTHING_API_RATE_LIMIT: '1000000',
    FARTHING_TEST_FAST_HASHING: '1',
    FARTHING_TOKEN_IDLE_HOURS: '87600',
    ...overrides,
  });
}
