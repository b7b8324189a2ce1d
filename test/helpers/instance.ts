/**
 * A whole instance for a test: fresh database of the given kind, a manual clock, the app, and
 * small helpers that drive it through the public JSON API as a client would. After the test the
 * ledger self-check must pass: every scenario ends with the money checked.
 */
import type { LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';
import { testConfig } from '../../src/config.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { DatabaseKind } from '../../src/db/database.ts';
import { createInstance, type Instance } from '../../src/instance.ts';
import { checkLedger } from '../../src/ledger/check.ts';
import { registerMember } from '../../src/members/service.ts';
import { freshDatabase } from './databases.ts';

export interface TestInstance extends Instance {
  clock: ManualClock;
  api: Api;
  adminToken: string;
  /** Registers a member (bypassing invites), deposits `deposit` and sets `budget`; answers a token. */
  member(username: string, options?: { deposit?: string; budget?: string }): Promise<string>;
}

export type Api = (method: string, url: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }) => Promise<Reply>;

export interface Reply {
  status: number;
  body: any;
  headers: LightMyRequestResponse['headers'];
  text: string;
}

export async function startInstance(
  t: Test,
  kind: DatabaseKind,
  options: { env?: Record<string, string>; now?: string; poolSize?: number } = {},
): Promise<TestInstance> {
  const database = await freshDatabase(t, kind, { manage: false, ...(options.poolSize ? { poolSize: options.poolSize } : {}) });
  const clock = new ManualClock(options.now ?? '2026-11-10T12:00:00Z');
  const config = testConfig({ FARTHING_ORIGIN: 'https://a.example', FARTHING_REGISTRATION: 'open', ...options.env });
  const instance = await createInstance(config, { clock, database });
  t.teardown(async () => {
    const check = await checkLedger(instance.ctx.db);
    if (!check.balanced) t.fail(`ledger self-check after the scenario: ${JSON.stringify(check.checks.filter((c) => !c.ok))}`);
    await instance.close();
    await database.dispose();
  });

  const api: Api = async (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const response = await instance.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(opts.body === undefined ? {} : { payload: opts.body as object }),
    });
    let body: unknown;
    try {
      body = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.statusCode, body, headers: response.headers, text: response.body };
  };

  await registerMember(instance.ctx, { username: 'admin', password: 'admin-password' }, { role: 'admin', bypassRegistration: true });
  const adminToken = (await api('POST', '/api/v1/tokens', { body: { username: 'admin', password: 'admin-password' } })).body.token as string;

  const member = async (username: string, opts: { deposit?: string; budget?: string } = {}) => {
    await registerMember(instance.ctx, { username, password: `${username}-password` }, { bypassRegistration: true });
    const token = (await api('POST', '/api/v1/tokens', { body: { username, password: `${username}-password` } })).body.token as string;
    if (opts.deposit) {
      const r = await api('POST', '/api/v1/admin/deposits', {
        token: adminToken,
        body: { username, amount: opts.deposit, reference: `deposit-${username}-${opts.deposit}` },
      });
      if (r.status !== 201) throw new Error(`deposit failed: ${r.text}`);
    }
    if (opts.budget) {
      const r = await api('PUT', '/api/v1/me/budget', { token, body: { amount: opts.budget } });
      if (r.status !== 200) throw new Error(`budget failed: ${r.text}`);
    }
    return token;
  };

  return Object.assign(instance, { clock, api, adminToken, member });
}

/** Things are registered by their owner; answers the thing's id. */
export async function thing(inst: TestInstance, ownerToken: string, url: string, title?: string): Promise<string> {
  const r = await inst.api('POST', '/api/v1/things', { token: ownerToken, body: { url, ...(title ? { title } : {}) } });
  if (r.status !== 201) throw new Error(`thing failed: ${r.text}`);
  return r.body.id as string;
}
