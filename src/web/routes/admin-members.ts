/**
 * Admin: the members (wallet, budget, whether listed) with search and paging, a new password for
 * a member who lost theirs, every invite of
 * the instance (made here or by members; used or not), and the ledger self-check, one row per
 * check with what it found.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { AppError } from '../../core/errors.ts';
import { formatAmount } from '../../core/money.ts';
import { checkLedger } from '../../ledger/check.ts';
import { createInvite } from '../../members/service.ts';
import { AdminPasswordInput, setPasswordByAdmin } from '../../members/sessions.ts';
import { formInput, formValues } from '../forms.ts';
import { html, query } from '../html.ts';
import { csrfField, errorText, type FormError, field, formAlert, formError, noticeFor, page, sendPage } from '../layout.ts';
import { PAGE_SIZE, pageParam, pager } from '../paging.ts';
import { allInvites, searchMembers } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireAdminPage } from '../session.ts';

type InviteState = 'all' | 'used' | 'unused';

export function adminMemberRoutes(app: FastifyInstance, ctx: Context): void {
  const c = ctx.config.currency;

  app.get('/admin/members', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const q = request.query as { q?: unknown; page?: unknown };
    const search = typeof q.q === 'string' ? q.q.trim() : '';
    let error: FormError | undefined;
    let pageNo = 1;
    try {
      if (q.q !== undefined && typeof q.q !== 'string') throw new AppError('invalid_request', 'q must be text', { field: 'q' });
      if (search.length > 30) throw new AppError('invalid_request', 'q must be at most 30 characters (usernames are no longer)', { field: 'q' });
      pageNo = pageParam(q.page);
    } catch (refusal) {
      error = formError(refusal);
    }
    const { rows, more } = error ? { rows: [], more: false } : await searchMembers(ctx, { search, offset: (pageNo - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const main = html`<form method="get" action="/admin/members" class="row" role="search">
${field({ name: 'q', label: 'Username contains', type: 'search', value: search.slice(0, 30) || undefined, error })}
<button type="submit">Search</button></form>
${error && error.field !== 'q' ? html`<div role="alert">${errorText(error, `${error.field ?? 'page'}-error`)}</div>` : ''}
${
  rows.length === 0
    ? html`<p>${error ? 'Nothing shown.' : search ? html`No member's name contains “${search}”.` : 'No members.'}</p>`
    : html`<div class="scroll"><table>
<caption>Members${search ? html` whose name contains “${search}”` : ''}</caption>
<thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col" class="num">Wallet (${c})</th><th scope="col" class="num">Budget</th><th scope="col">Listed</th><th scope="col">Since</th></tr></thead>
<tbody>${rows.map(
        (m) => html`<tr><td>${m.username}</td><td>${m.role}</td><td class="num">${formatAmount(m.balance)}</td>
<td class="num">${m.budget === null ? '—' : formatAmount(m.budget)}</td><td>${m.listed ? 'yes' : 'no'}</td><td>${m.created_at.toISOString().slice(0, 10)}</td></tr>`,
      )}</tbody>
</table></div>`
}
${pager('/admin/members', { q: search || undefined }, pageNo, more)}
<p><a href="/admin/deposits">Record a deposit</a> · <a href="/admin/members/password">Set a member's password</a></p>`;
    return sendPage(reply, page({ title: 'Members', main, caller, csrf: csrfToken(reply), path: '/admin/members' }), error?.status ?? 200);
  });

  const showInvites = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, failed?: FormError) => {
    const q = request.query as { state?: unknown; page?: unknown; code?: unknown };
    let error = failed;
    let state: InviteState = 'unused';
    let pageNo = 1;
    try {
      state = inviteStateParam(q.state);
      pageNo = pageParam(q.page);
    } catch (refusal) {
      error ??= formError(refusal);
    }
    const { rows, more } = error && !failed ? { rows: [], more: false } : await allInvites(ctx, { state, offset: (pageNo - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const csrf = csrfToken(reply);
    const made = typeof q.code === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(q.code) ? q.code : undefined;
    const link = (code: string) => `${ctx.config.origin}/signup${query({ invite: code })}`;
    const tab = (value: InviteState, label: string) =>
      html`<li>${value === state ? html`<a href="/admin/invites${query({ state: value })}" aria-current="page"><strong>${label}</strong></a>` : html`<a href="/admin/invites${query({ state: value })}">${label}</a>`}</li>`;
    const main = html`<p>An invite is a code for one new member${ctx.config.registration === 'invite' ? ' (this instance is invite-only)' : ''}. Admins can make as many as they need; members make up to ${ctx.config.invitesPerMember} each.</p>
<form method="post" action="/admin/invites">${csrfField(csrf)}<button type="submit">Make an invite</button>${failed ? errorText(failed, 'invite-error') : ''}</form>
${made && !error ? html`<p>New invite: <a href="/signup${query({ invite: made })}">${link(made)}</a></p>` : ''}
<nav aria-label="Invites by state"><ul class="tabs">${tab('unused', 'Unused')}${tab('used', 'Used')}${tab('all', 'All')}</ul></nav>
${error && !failed ? html`<div role="alert">${errorText(error, `${error.field ?? 'state'}-error`)}</div>` : ''}
${
  rows.length === 0
    ? html`<p>No ${state === 'all' ? '' : `${state} `}invites.</p>`
    : html`<div class="scroll"><table>
<caption>${state === 'all' ? 'All invites' : state === 'used' ? 'Used invites' : 'Unused invites'}, newest first</caption>
<thead><tr><th scope="col">Code</th><th scope="col">Made by</th><th scope="col">Made</th><th scope="col">Used by</th><th scope="col">Used</th></tr></thead>
<tbody>${rows.map(
        (i) => html`<tr><td><span class="code">${i.code}</span></td><td>${i.made_by ?? 'the instance'}</td><td>${i.created_at.toISOString().slice(0, 10)}</td>
<td>${i.used_by ?? '—'}</td><td>${i.used_at ? i.used_at.toISOString().slice(0, 10) : '—'}</td></tr>`,
      )}</tbody>
</table></div>`
}
${pager('/admin/invites', { state }, pageNo, more)}`;
    const notice = error ? undefined : noticeFor(q, { invite: 'Invite made: send its link to the person you invite.' });
    return sendPage(reply, page({ title: 'Invites', main, caller, csrf, notice, path: '/admin/invites' }), error?.status ?? 200);
  };

  app.get('/admin/invites', async (request, reply) => showInvites(request, reply, await requireAdminPage(ctx, request)));

  app.post('/admin/invites', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      const code = await createInvite(ctx, caller);
      return reply.redirect(`/admin/invites${query({ done: 'invite', code })}`, 303);
    } catch (error) {
      return showInvites(request, reply, caller, formError(error));
    }
  });

  // A member who forgot their password asks an admin (there is no email): a new one, and every
  // session and token of theirs is revoked (also `npm run farthing -- password <username>`).
  const passwordPage = (request: FastifyRequest, reply: FastifyReply, caller: Caller, values: { username?: string }, error?: FormError) => {
    const csrf = csrfToken(reply);
    const main = html`<p>Sets a new password for a member who lost theirs; tell it to them in person or by a channel you trust.
Every browser and token of theirs is signed out.</p>
<form method="post" action="/admin/members/password">${csrfField(csrf)}
${formAlert(error, ['username', 'password'])}
${field({ name: 'username', label: 'Member', value: values.username, error, required: true, autocomplete: 'off' })}
${field({ name: 'password', label: 'New password', type: 'password', error, required: true, autocomplete: 'new-password', hint: '8 to 256 characters' })}
<button type="submit">Set the password</button>
</form>`;
    const notice = error ? undefined : noticeFor(request.query, { set: "Password set: the member's sessions and tokens are revoked." });
    return sendPage(reply, page({ title: "Set a member's password", main, caller, csrf, notice, path: '/admin/members/password' }), error?.status ?? 200);
  };

  app.get('/admin/members/password', async (request, reply) => passwordPage(request, reply, await requireAdminPage(ctx, request), {}));

  app.post('/admin/members/password', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      await setPasswordByAdmin(ctx, formInput(AdminPasswordInput, request.body));
      return reply.redirect('/admin/members/password?done=set', 303);
    } catch (error) {
      return passwordPage(request, reply, caller, formValues(request.body, ['username'], 30), formError(error));
    }
  });

  app.get('/admin/ledger', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const check = await checkLedger(ctx.db);
    const main = html`<p>Each check is a query that must find nothing. It also runs before and inside every close.</p>
<p id="verdict"><strong>${check.balanced ? 'Balanced' : 'NOT balanced'}</strong>: ${check.checks.filter((k) => k.ok).length} of ${check.checks.length} checks pass over ${check.transfers} transfers.</p>
<div class="scroll"><table>
<caption>The checks and their results</caption>
<thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">What it would catch</th></tr></thead>
<tbody>${check.checks.map((k) => html`<tr id="check-${k.name}"><td class="code">${k.name}</td><td>${k.ok ? 'ok' : html`<strong class="error">failed</strong> <span class="code">${JSON.stringify(k.problems ?? [])}</span>`}</td><td>${k.why}</td></tr>`)}</tbody>
</table></div>`;
    return sendPage(reply, page({ title: 'Ledger self-check', main, caller, csrf: csrfToken(reply), path: '/admin/ledger' }));
  });
}

function inviteStateParam(value: unknown): InviteState {
  if (value === undefined || value === '') return 'unused';
  if (value === 'all' || value === 'used' || value === 'unused') return value;
  throw new AppError('invalid_request', `state must be unused, used or all, got ${JSON.stringify(value)}`, { field: 'state' });
}
