/**
 * One limiter for every place a password is checked (POST /api/v1/tokens, the /signin form, the
 * password change on the API and on its page), so that guesses add up wherever they are sent:
 *
 * - per address: FARTHING_AUTH_RATE_LIMIT failed attempts a minute (an IPv6 address counts by its
 *   /64, which one customer usually holds whole); a success gives its slot back;
 * - per account: FARTHING_AUTH_RATE_LIMIT attempts a minute, whatever address they come from, so a
 *   botnet cannot guess one member's password either.
 *
 * A slot is taken BEFORE the password is checked, so parallel guesses cannot all pass the count.
 * Over a limit the answer is 429 `rate_limited` with Retry-After (the seconds until the window ends)
 * and the password is not even looked at. It is a window, not a lock: a minute after the guessing
 * stops the owner signs in again; no state outlives a window.
 *
 * Counters live in this process's memory (like @fastify/rate-limit's): each process of an instance
 * counts for itself. Written by hand: @fastify/rate-limit keys one route's requests, while this
 * counts across routes and by an account that is only known once the body is read.
 */
import ipaddr from 'ipaddr.js';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route that checks a password: the sign-in limits count it (not the API's per-address limit). */
    passwordEntry?: boolean;
  }
}

const WINDOW_MS = 60_000;
/** Bounds the memory: expired windows are dropped first, then the oldest. */
const MAX_KEYS = 100_000;

interface Window {
  count: number;
  endsAt: number;
}

export class AttemptWindows {
  readonly #windows = new Map<string, Window>();
  readonly max: number;
  readonly windowMs: number;

  constructor(max: number, windowMs = WINDOW_MS) {
    this.max = max;
    this.windowMs = windowMs;
  }

  /** The milliseconds until `key` may try again, or 0 when it may now. */
  waitFor(key: string, now: number): number {
    const window = this.#windows.get(key);
    if (!window || window.endsAt <= now) return 0;
    return window.count >= this.max ? window.endsAt - now : 0;
  }

  take(key: string, now: number): void {
    const window = this.#windows.get(key);
    if (window && window.endsAt > now) {
      window.count++;
      return;
    }
    if (this.#windows.size >= MAX_KEYS) this.#prune(now);
    this.#windows.set(key, { count: 1, endsAt: now + this.windowMs });
  }

  giveBack(key: string, now: number): void {
    const window = this.#windows.get(key);
    if (window && window.endsAt > now && window.count > 0) window.count--;
  }

  #prune(now: number): void {
    for (const [key, window] of this.#windows) if (window.endsAt <= now) this.#windows.delete(key);
    while (this.#windows.size >= MAX_KEYS) this.#windows.delete(this.#windows.keys().next().value as string);
  }
}

const limiters = new WeakMap<Context, AttemptWindows>();

function windowsOf(ctx: Context): AttemptWindows {
  let windows = limiters.get(ctx);
  if (!windows) limiters.set(ctx, (windows = new AttemptWindows(ctx.config.authRateLimit)));
  return windows;
}

/** An address as the limiter counts it: IPv4 (mapped ones too) whole, IPv6 by its /64. */
export function addressKey(ip: string): string {
  try {
    const parsed = ipaddr.process(ip);
    if (parsed.kind() === 'ipv6')
      return `ip:${(parsed as ipaddr.IPv6).parts
        .slice(0, 4)
        .map((p) => p.toString(16))
        .join(':')}::/64`;
    return `ip:${parsed.toString()}`;
  } catch {
    return `ip:${ip.slice(0, 100)}`;
  }
}

function refuse(waitMs: number, what: string): never {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  throw new AppError('rate_limited', `${what}; too many requests: try again in ${seconds} s`, { retry_after: seconds });
}

/** A password attempt about to be checked: the limits are checked and a slot taken, or 429. */
export interface PasswordAttempt {
  /** The password was right: the address's slot is given back. */
  succeeded(): void;
}

/**
 * Before checking a password: `address` is the client's (request.ip), `memberId` the account's
 * when the username names one (unknown usernames are limited by address only).
 */
export function beginPasswordAttempt(ctx: Context, address: string | undefined, memberId: bigint | undefined): PasswordAttempt {
  const windows = windowsOf(ctx);
  const now = ctx.clock.now().getTime();
  const byAddress = address === undefined ? undefined : addressKey(address);
  const byAccount = memberId === undefined ? undefined : `member:${memberId}`;
  const addressWait = byAddress ? windows.waitFor(byAddress, now) : 0;
  if (addressWait > 0) refuse(addressWait, 'too many failed sign-ins from this address');
  const accountWait = byAccount ? windows.waitFor(byAccount, now) : 0;
  if (accountWait > 0) refuse(accountWait, 'too many sign-ins to this account');
  if (byAddress) windows.take(byAddress, now);
  if (byAccount) windows.take(byAccount, now);
  return {
    succeeded: () => {
      if (byAddress) windows.giveBack(byAddress, ctx.clock.now().getTime());
    },
  };
}
