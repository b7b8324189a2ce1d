/**
 * webPages: the server-rendered pages and embeds, as one fastify plugin.
 *
 * It is deliberately not wrapped with fastify-plugin: form bodies, cookies, CSRF, the pages'
 * security headers and their HTML error pages stay inside this plugin, so the JSON API keeps
 * refusing form bodies and keeps its JSON errors. Every write goes through the same service as
 * the API; pages add no rules of their own.
 *
 * Register it in buildApp: `await app.register(webPages, { ctx })`.
 */
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.ts';
import { assetRoutes } from './assets.ts';
import { installPageErrors } from './errors.ts';
import { accountRoutes } from './routes/account.ts';
import { adminRoutes } from './routes/admin.ts';
import { adminMemberRoutes } from './routes/admin-members.ts';
import { adminPeriodRoutes } from './routes/admin-periods.ts';
import { adminSettlementRoutes } from './routes/admin-settlement.ts';
import { bankPages } from './routes/banking.ts';
import { cardPages } from './routes/cards.ts';
import { citizenRoutes } from './routes/citizens.ts';
import { creatorRoutes } from './routes/creator.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { embedRoutes } from './routes/embeds.ts';
import { linkPageRoutes } from './routes/links.ts';
import { consentRoutes } from './routes/oauth.ts';
import { popularRoutes } from './routes/popular.ts';
import { profileRoutes } from './routes/profile.ts';
import { remoteFlattrRoutes } from './routes/remote-flattr.ts';
import { settingsRoutes } from './routes/settings.ts';
import { thingRoutes } from './routes/things.ts';
import { unclaimedRoutes } from './routes/unclaimed.ts';
import { visitorRoutes } from './routes/visitors.ts';
import { walletRoutes } from './routes/wallet.ts';
import { installCsrf, installSecurityHeaders } from './security.ts';

export interface WebPagesOptions {
  ctx: Context;
}

export async function webPages(app: FastifyInstance, { ctx }: WebPagesOptions): Promise<void> {
  await app.register(cookie);
  await app.register(formbody);
  await installCsrf(app, ctx);
  await installSecurityHeaders(app, ctx);
  installPageErrors(app, ctx);

  assetRoutes(app);
  visitorRoutes(app, ctx);
  thingRoutes(app, ctx);
  embedRoutes(app, ctx);
  dashboardRoutes(app, ctx);
  walletRoutes(app, ctx);
  creatorRoutes(app, ctx);
  adminRoutes(app, ctx);
  adminPeriodRoutes(app, ctx);
  adminMemberRoutes(app, ctx);
  adminSettlementRoutes(app, ctx);
  popularRoutes(app, ctx);
  profileRoutes(app, ctx);
  consentRoutes(app, ctx);
  settingsRoutes(app, ctx);
  accountRoutes(app, ctx);
  linkPageRoutes(app, ctx);
  remoteFlattrRoutes(app, ctx);
  unclaimedRoutes(app, ctx);
  citizenRoutes(app, ctx);
  cardPages(app, ctx);
  bankPages(app, ctx);
}
