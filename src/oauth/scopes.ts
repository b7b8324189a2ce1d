/**
 * What an OAuth token may do. Each scope has plain words for the consent page, and every route of
 * the JSON API declares the one scope it needs (or 'public') on itself, as `config: { access }`;
 * src/http/auth.ts checks it before the body is validated, and the app does not start with a route
 * under /api/v1 that declares none. test/oauth/scopes.test.ts walks the router to prove each check.
 *
 * Tokens made with a password (and sessions) carry every scope of the member's role; `admin` is
 * only ever granted to admins.
 */
import { AppError } from '../core/errors.ts';

export const SCOPES = ['read', 'flattr', 'things', 'account', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What the consent page says each scope lets the app do. */
export const SCOPE_WORDS: Record<Scope, string> = {
  read: 'See your account, budget, wallet balance, flattrs, earnings, ledger, payouts and invites',
  flattr: 'Flattr things and withdraw flattrs on your behalf (your monthly budget is split among them), and manage your subscriptions',
  things: 'Register things that you own',
  account:
    'Change your monthly budget, ask for payouts from your wallet, top it up by card, make invites, manage webhooks, and change your profile (name, bio, avatar)',
  admin: 'Act as an instance admin: members, deposits, payouts, closes and the ledger',
};

/** Every scope a member of this role may hold. */
export function scopesForRole(role: 'member' | 'admin'): readonly Scope[] {
  return role === 'admin' ? SCOPES : SCOPES.filter((s) => s !== 'admin');
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/**
 * A space-separated scope string (OAuth's `scope`, Mastodon's `scopes`; `+` counts as a space as
 * in a query string) as known scopes in canonical order, without repeats. An unknown scope is
 * refused with `invalid_request` naming it; an empty string answers `fallback`.
 */
export function parseScopes(value: unknown, fallback: readonly Scope[]): Scope[] {
  if (value === undefined || value === null) return [...fallback];
  if (typeof value !== 'string' || value.length > 500) throw new AppError('invalid_request', 'scopes must be a space-separated string', { field: 'scopes' });
  const words = value.split(/[\s+]+/).filter(Boolean);
  if (words.length === 0) return [...fallback];
  for (const word of words) {
    if (!isScope(word)) throw new AppError('invalid_request', `unknown scope '${word.slice(0, 40)}'; the scopes are ${SCOPES.join(', ')}`, { field: 'scopes' });
  }
  return SCOPES.filter((s) => words.includes(s));
}

export function formatScopes(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/**
 * Who may call a route of the JSON API: the one scope it needs, or 'public' (no token needed; a
 * token, if sent, is not checked for a scope). Each route declares it once, as
 * `config: { access }` (src/http/auth.ts).
 */
export type RouteAccess = Scope | 'public';
