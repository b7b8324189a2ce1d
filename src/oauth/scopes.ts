/**
 * What an OAuth token may do. Each scope has plain words for the consent page, and every route of
 * the JSON API names the one scope it needs in ROUTE_SCOPES, keyed by method and fastify's route
 * url. requireCaller (src/http/auth.ts) looks the route up there on every authenticated call, so
 * an endpoint cannot forget its check; a route missing from the table needs every scope of the
 * caller's role (only a token made with a password has them), and test/oauth/scopes.test.ts fails
 * for it.
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

/** 'public': no token needed (a token, if sent, is not checked for a scope). */
export type RouteScope = Scope | 'public';

/**
 * The scope of every route under /api/v1, by `METHOD url` as fastify registers it. HEAD routes
 * use their GET's entry. Adding an API route means adding it here (the scope test fails until).
 */
export const ROUTE_SCOPES: Readonly<Record<string, RouteScope>> = {
  // accounts, tokens and apps: how a client gets a token in the first place
  'POST /api/v1/accounts': 'public',
  'POST /api/v1/tokens': 'public',
  'POST /api/v1/apps': 'public',
  'GET /api/v1/things/lookup': 'public',

  'GET /api/v1/me': 'read',
  'GET /api/v1/me/flattrs': 'read',
  'GET /api/v1/me/earnings': 'read',
  'GET /api/v1/me/ledger': 'read',
  'GET /api/v1/me/incoming': 'read',
  'GET /api/v1/me/payouts': 'read',
  'GET /api/v1/me/invites': 'read',

  'PUT /api/v1/me/budget': 'account',
  'POST /api/v1/me/payouts': 'account',
  'POST /api/v1/me/invites': 'account',
  'GET /api/v1/me/links': 'read',
  'POST /api/v1/me/links': 'account',
  'POST /api/v1/me/links/:id/verify': 'account',
  'DELETE /api/v1/me/links/:id': 'account',
  // the member's public face (issue 13)
  'GET /api/v1/me/profile': 'read',
  'PUT /api/v1/me/profile': 'account',
  'PUT /api/v1/me/avatar': 'account',
  'DELETE /api/v1/me/avatar': 'account',

  // sessions, tokens and the password (an app's token cannot change the password whatever its scopes)
  'GET /api/v1/tokens': 'read',
  'DELETE /api/v1/tokens/:id': 'account',
  'PUT /api/v1/me/password': 'account',

  'POST /api/v1/things': 'things',

  'POST /api/v1/flattrs': 'flattr',
  'DELETE /api/v1/flattrs/:id': 'flattr',

  // subscriptions and webhooks (issue 6)
  'GET /api/v1/subscriptions': 'read',
  'POST /api/v1/subscriptions': 'flattr',
  'POST /api/v1/subscriptions/:id/pause': 'flattr',
  'POST /api/v1/subscriptions/:id/resume': 'flattr',
  'DELETE /api/v1/subscriptions/:id': 'flattr',
  'GET /api/v1/webhooks': 'read',
  'POST /api/v1/webhooks': 'account',
  'DELETE /api/v1/webhooks/:id': 'account',

  'POST /api/v1/admin/invites': 'admin',
  'POST /api/v1/admin/deposits': 'admin',
  'PUT /api/v1/admin/charity': 'admin',
  'POST /api/v1/admin/periods/:period/close': 'admin',
  'GET /api/v1/admin/periods/:period': 'admin',
  'GET /api/v1/admin/ledger/check': 'admin',
  'GET /api/v1/admin/payouts': 'admin',
  'POST /api/v1/admin/payouts/:id/paid': 'admin',
  'GET /api/v1/admin/statements': 'admin',
  'GET /api/v1/admin/statements/:id': 'admin',
  'POST /api/v1/admin/statements/:id/accept': 'admin',
  'POST /api/v1/admin/statements/:id/dispute': 'admin',
  'GET /api/v1/admin/settlements': 'admin',
  'POST /api/v1/admin/settlements/:id/paid': 'admin',
  'POST /api/v1/admin/settlements/:id/confirm': 'admin',
  'POST /api/v1/admin/statements/:id/correct': 'admin',
  'GET /api/v1/admin/peers': 'admin',
  'GET /api/v1/admin/unclaimed': 'admin',
  'PUT /api/v1/admin/peers': 'admin',

  // bank rails (src/banking/)
  'GET /api/v1/me/deposit-instructions': 'read',
  'GET /api/v1/me/payout-account': 'read',
  'PUT /api/v1/me/payout-account': 'account',
  'POST /api/v1/admin/bank-statements': 'admin',
  'GET /api/v1/admin/bank-entries': 'admin',
  'POST /api/v1/admin/bank-entries/:id/assign': 'admin',
  'POST /api/v1/admin/bank-entries/:id/ignore': 'admin',
  'GET /api/v1/admin/payouts/sepa': 'admin',
  'GET /api/v1/admin/payouts/sepa/batches': 'admin',
  // card top-ups (issue 15, src/cards): paying is an account action, like asking for a payout
  'GET /api/v1/me/topups': 'read',
  'POST /api/v1/me/topups': 'account',
  'GET /api/v1/admin/card-topups': 'admin',
  'GET /api/v1/admin/card-reversals': 'admin',
};

/** The table's entry for a route; undefined when the route is not in it. */
export function routeScope(method: string, url: string | undefined): RouteScope | undefined {
  if (!url) return undefined;
  const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
  return Object.hasOwn(ROUTE_SCOPES, key) ? ROUTE_SCOPES[key] : undefined;
}
