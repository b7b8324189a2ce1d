/**
 * Admin pages for settlement between instances: the peers (trust, block, credit line, limit what may be owed), the
 * statements issued and received (details, the signed document's lines, accept / dispute /
 * correct, and the document itself for download, byte for byte), and the settlements per peer and
 * period (record our payment, confirm the peer's). Every action calls the same service as the
 * JSON API (src/settlement/admin.ts, src/settlement/netting.ts); the pages add no rules of their own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Caller, Context } from '../../context.ts';
import { AppError } from '../../core/errors.ts';
import { rule } from '../../core/input.ts';
import { formatAmount, parseAmount } from '../../core/money.ts';
import { parsePeriod } from '../../core/period.ts';
import {
  acceptStatement,
  correctStatement,
  disputeStatement,
  listPeers,
  listStatements,
  statementDetails,
  statementDocument,
  updatePeer,
} from '../../settlement/admin.ts';
import { confirmReceived, listSettlements, markPaid, SettlementPaidInput } from '../../settlement/netting.ts';
import type { PeerState } from '../../settlement/peers.ts';
import { formInput, formValues } from '../forms.ts';
import { html, query } from '../html.ts';
import { csrfField, errorText, type FormError, field, formAlert, formError, noticeFor, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireAdminPage } from '../session.ts';

type Form = Record<string, string | undefined>;
type SettlementItem = Awaited<ReturnType<typeof listSettlements>>[number];
type DocumentLine = { n: number; creator: string; account?: string; flattrCount: number; amount: string };

/** The uuid at the end of a statement's IRI: what the pages put in their addresses. */
function uuidOf(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

function uuidParam(value: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) throw new AppError('not_found', 'no such statement');
  return value.toLowerCase();
}

/** An amount field of the peers form: blank is none; a refusal names its field. */
function formAmount(name: 'owe_limit' | 'credit_line') {
  return rule(z.unknown().optional(), (value): bigint | undefined => {
    const text = typeof value === 'string' ? value.trim() : '';
    if (text === '') return undefined;
    try {
      return parseAmount(text, name);
    } catch (refusal) {
      if (refusal instanceof AppError) throw new AppError(refusal.code, refusal.message, { field: name });
      throw refusal;
    }
  });
}

/**
 * The peers page's form, read in the order its refusals are shown. Page-only: a blank amount is
 * none, older forms send a `blocked` checkbox; what it makes is the PeerChange the API's PeerInput makes.
 */
const PeerForm = z.object({
  blocked: rule(z.unknown().optional(), (value): boolean => {
    if (value !== undefined && value !== 'on') throw new AppError('invalid_request', 'blocked is a checkbox: "on" or absent', { field: 'state' });
    return value === 'on';
  }),
  state: rule(z.unknown().optional(), (value): PeerState | undefined => {
    if (value !== undefined && value !== 'trusted' && value !== 'pending' && value !== 'blocked') {
      throw new AppError('invalid_request', 'state must be trusted, pending or blocked', { field: 'state' });
    }
    return value;
  }),
  peer: rule(z.unknown().optional(), (value): string => {
    const peer = typeof value === 'string' ? value.trim() : '';
    if (peer === '' || peer.length > 300) throw new AppError('invalid_request', 'peer must be an instance origin such as https://b.example', { field: 'peer' });
    return peer;
  }),
  owe_limit: formAmount('owe_limit'),
  credit_line: formAmount('credit_line'),
});

/** The dispute form's line number; the statement is asked whether it has that line after. */
const DisputeLineForm = z.object({
  line: rule(z.unknown(), (value): number => {
    const text = typeof value === 'string' ? value.trim() : '';
    if (!/^\d{1,9}$/.test(text)) {
      const got = JSON.stringify(typeof value === 'string' ? value.slice(0, 40) : (value ?? null));
      throw new AppError('invalid_request', `line must be a line number, got ${got}`, { field: 'line' });
    }
    return Number(text);
  }),
});

/** The dispute form's reason, trimmed: sent to the issuing instance. */
const DisputeReasonForm = z.object({
  reason: rule(z.unknown(), (value): string => {
    const reason = typeof value === 'string' ? value.trim() : '';
    if (reason === '' || reason.length > 500) throw new AppError('invalid_request', 'reason must say why, in 1 to 500 characters', { field: 'reason' });
    return reason;
  }),
});

/** The settlement's paid form: SettlementPaidInput's reference, trimmed first as a pasted reference may need. */
const SettlementPaidForm = z.object({
  reference: z
    .string()
    .transform((reference) => reference.trim())
    .pipe(SettlementPaidInput.shape.reference),
});

export function adminSettlementRoutes(app: FastifyInstance, ctx: Context): void {
  const c = ctx.config.currency;

  // ---- peers -------------------------------------------------------------------------------

  const showPeers = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, failed?: { peer: string; values: Form; error: FormError }) => {
    const peers = await listPeers(ctx);
    const csrf = csrfToken(reply);
    const known = failed ? peers.some((p) => p.origin === failed.peer) : false;
    const peerForm = (origin: string | undefined, i: string, current: { state: string; owe_limit: string | null; credit_line: string }) => {
      const mine = failed && (origin === undefined ? !known : failed.peer === origin) ? failed : undefined;
      const values = mine?.values;
      const chosen = values ? (typeof values.state === 'string' ? values.state : values.blocked === 'on' ? 'blocked' : current.state) : current.state;
      const stateError = mine?.error.field === 'state' ? mine.error : undefined;
      return html`<form method="post" action="/admin/peers" class="row">${csrfField(csrf)}
${
  origin === undefined
    ? field({
        name: 'peer',
        id: `peer-${i}`,
        label: 'Instance origin',
        value: values?.peer,
        error: mine?.error,
        required: true,
        hint: 'such as https://b.example',
      })
    : html`<input type="hidden" name="peer" value="${origin}">`
}
${origin !== undefined ? formAlert(mine?.error, ['state', 'credit_line', 'owe_limit']) : formAlert(mine?.error, ['peer', 'state', 'credit_line', 'owe_limit'])}
<div class="field${stateError ? ' invalid' : ''}">
<label for="state-${i}">State</label>
<select id="state-${i}" name="state"${stateError ? html` aria-invalid="true" aria-describedby="state-${i}-error"` : ''}>
${(['pending', 'trusted', 'blocked'] as const).map((s) => html`<option value="${s}"${chosen === s ? html` selected` : ''}>${s}</option>`)}
</select>
${stateError ? errorText(stateError, `state-${i}-error`) : ''}
</div>
${field({ name: 'credit_line', id: `credit_line-${i}`, label: `Credit line (${c})`, value: values ? values.credit_line : current.credit_line, error: mine?.error, inputmode: 'decimal', hint: 'spendable before the money arrives' })}
${field({ name: 'owe_limit', id: `owe_limit-${i}`, label: `Owe limit (${c})`, value: values ? values.owe_limit : (current.owe_limit ?? undefined), error: mine?.error, inputmode: 'decimal', hint: 'empty: no limit' })}
<button type="submit">${origin === undefined ? 'Add the peer' : 'Save'}</button></form>`;
    };
    const main = html`<p>The instances this one has seen. Only a <strong>trusted</strong> peer's statements credit creators here; a <strong>pending</strong> peer's are verified, kept and reconciled but credit nobody until you trust it (then they apply); a <strong>blocked</strong> peer's statements and flattrs are refused. A creator's credit from a peer stays pending until the settlement covering it is settled, except within the peer's credit line. The owe limit caps what this instance may owe the peer (flattrs beyond it are refused with <span class="code">peer_limit</span>). The balance is positive when this instance owes the peer, negative when the peer owes us.</p>
${
  peers.length === 0
    ? html`<p>No peers yet.</p>`
    : html`<div class="scroll"><table>
<caption>Peers</caption>
<thead><tr><th scope="col">Instance</th><th scope="col">State</th><th scope="col">Software</th><th scope="col">First seen</th><th scope="col" class="num">Its statements claim (${c})</th><th scope="col" class="num">Pending credits (${c})</th><th scope="col" class="num">Credit line (${c})</th><th scope="col" class="num">Owe limit (${c})</th><th scope="col" class="num">Balance (${c})</th><th scope="col">Change</th></tr></thead>
<tbody>${peers.map(
        (
          p,
          i,
        ) => html`<tr id="peer-row-${i}"><td>${p.origin}</td><td>${p.state}</td><td>${p.software ?? 'unknown'}</td><td>${p.first_seen ? p.first_seen.slice(0, 10) : ''}</td><td class="num">${p.claimed}${p.awaiting !== '0.00' ? ` (${p.awaiting} waiting)` : ''}</td><td class="num">${p.pending}</td><td class="num">${p.credit_line}</td><td class="num">${p.owe_limit ?? 'none'}</td><td class="num">${p.balance}</td>
<td>${peerForm(p.origin, String(i), p)}</td></tr>`,
      )}</tbody>
</table></div>`
}
<h2>Add a peer</h2>
${peerForm(undefined, 'new', { state: 'pending', owe_limit: null, credit_line: '0.00' })}
<p><a href="/admin/statements">Statements</a> · <a href="/admin/settlements">Settlements</a></p>`;
    const notice = failed ? undefined : noticeFor(request.query, { saved: 'Peer saved.' });
    return sendPage(reply, page({ title: 'Peers', main, caller, csrf, notice, path: '/admin/peers' }), failed?.error.status ?? 200);
  };

  app.get('/admin/peers', async (request, reply) => showPeers(request, reply, await requireAdminPage(ctx, request)));

  app.post('/admin/peers', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const values = formValues(request.body, ['peer', 'state', 'blocked', 'owe_limit', 'credit_line'], 300);
    const peer = values.peer?.trim() ?? '';
    try {
      const form = formInput(PeerForm, request.body);
      // Older forms send a blocked checkbox instead of the state.
      const state = form.state ?? (form.blocked ? 'blocked' : undefined);
      await updatePeer(ctx, form.peer, {
        ...(state !== undefined ? { state } : { blocked: false }),
        owe_limit: form.owe_limit ?? null,
        ...(form.credit_line !== undefined ? { credit_line: form.credit_line } : {}),
      });
      return reply.redirect('/admin/peers?done=saved', 303);
    } catch (error) {
      return showPeers(request, reply, caller, { peer, values, error: formError(error, 'owe_limit') });
    }
  });

  // ---- statements --------------------------------------------------------------------------

  app.get('/admin/statements', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const q = request.query as { direction?: unknown; period?: unknown };
    let error: FormError | undefined;
    let direction: 'in' | 'out' | undefined;
    let period: string | undefined;
    try {
      if (q.direction !== undefined && q.direction !== '') {
        if (q.direction !== 'in' && q.direction !== 'out')
          throw new AppError('invalid_request', `direction must be in or out, got ${JSON.stringify(q.direction)}`, { field: 'direction' });
        direction = q.direction;
      }
      if (q.period !== undefined && q.period !== '') period = parsePeriod(q.period);
    } catch (refusal) {
      error = formError(refusal, 'period');
    }
    const rows = error ? [] : await listStatements(ctx, { ...(direction ? { direction } : {}), ...(period ? { period } : {}) });
    const tab = (value: 'in' | 'out' | undefined, label: string) => {
      const href = `/admin/statements${query({ direction: value, period })}`;
      return html`<li>${value === direction ? html`<a href="${href}" aria-current="page"><strong>${label}</strong></a>` : html`<a href="${href}">${label}</a>`}</li>`;
    };
    const main = html`<nav aria-label="Statements by direction"><ul class="tabs">${tab(undefined, 'All')}${tab('in', 'Received')}${tab('out', 'Issued')}</ul></nav>
<form method="get" action="/admin/statements" class="row">
${direction ? html`<input type="hidden" name="direction" value="${direction}">` : ''}
${field({ name: 'period', label: 'Month (YYYY-MM)', value: typeof q.period === 'string' ? q.period.slice(0, 20) || undefined : undefined, error })}
<button type="submit">Show</button></form>
${error && error.field !== 'period' ? html`<div role="alert">${errorText(error, `${error.field ?? 'direction'}-error`)}</div>` : ''}
${
  rows.length === 0
    ? html`<p>No statements${period ? html` for ${period}` : ''}.</p>`
    : html`<div class="scroll"><table>
<caption>Statements, newest first</caption>
<thead><tr><th scope="col">Peer</th><th scope="col">Direction</th><th scope="col" class="num">Sequence</th><th scope="col">Period</th><th scope="col" class="num">Total (${c})</th><th scope="col">State</th></tr></thead>
<tbody>${rows.map((s) => html`<tr><td>${s.peer}</td><td>${s.direction === 'in' ? 'received' : 'issued'}</td><td class="num"><a href="/admin/statements/${uuidOf(s.id)}">${s.sequence}</a></td><td>${s.period}</td><td class="num">${s.total}</td><td><a href="/admin/statements/${uuidOf(s.id)}">${s.state}</a></td></tr>`)}</tbody>
</table></div>`
}
<p><a href="/admin/peers">Peers</a> · <a href="/admin/settlements">Settlements</a></p>`;
    return sendPage(reply, page({ title: 'Statements', main, caller, csrf: csrfToken(reply), path: '/admin/statements' }), error?.status ?? 200);
  });

  const showStatement = async (
    request: FastifyRequest,
    reply: FastifyReply,
    caller: Caller,
    uuid: string,
    failed?: { form: 'accept' | 'dispute' | 'correct'; values: Form; error: FormError },
  ) => {
    const s = await statementDetails(ctx, uuid);
    const lines = (JSON.parse(await statementDocument(ctx, uuid)) as { lines?: DocumentLine[] }).lines ?? [];
    const reasons = new Map<number, string[]>();
    for (const d of s.dispute ?? []) reasons.set(d.n, [...(reasons.get(d.n) ?? []), d.reason]);
    const csrf = csrfToken(reply);
    const base = `/admin/statements/${uuid}`;
    const errorOf = (form: string) => (failed?.form === form ? failed.error : undefined);
    const canAccept = s.direction === 'in' && (s.state === 'open' || s.state === 'disputed');
    const canDispute = s.direction === 'in' && (s.state === 'open' || s.state === 'disputed');
    const canCorrect = s.direction === 'out' && s.state === 'disputed';
    const actionAlert = (form: 'accept' | 'correct') => {
      const e = errorOf(form);
      return e ? errorText(e, `${form}-error`) : '';
    };
    const main = html`<dl>
<dt>Statement</dt><dd><span class="code">${s.id}</span></dd>
<dt>Peer</dt><dd>${s.peer}</dd>
<dt>Direction</dt><dd>${s.direction === 'in' ? 'received from the peer (what it owes us)' : 'issued by this instance (what we owe the peer)'}</dd>
<dt>Sequence</dt><dd>${s.sequence}</dd>
<dt>Period</dt><dd>${s.period}</dd>
<dt>Total</dt><dd>${s.total} ${c}</dd>
<dt>State</dt><dd id="state">${s.state}</dd>
<dt>Recorded</dt><dd>${s.created_at.slice(0, 10)}</dd>
</dl>
<p><a href="${base}/document.json" download>Download the signed document (JSON)</a></p>
${
  lines.length === 0
    ? html`<p>The document has no lines.</p>`
    : html`<div class="scroll"><table>
<caption>The lines of the signed document</caption>
<thead><tr><th scope="col" class="num">Line</th><th scope="col">Creator</th><th scope="col" class="num">Flattrs</th><th scope="col" class="num">Amount (${c})</th><th scope="col">Dispute</th></tr></thead>
<tbody>${lines.map((l) => html`<tr id="line-${l.n}"><td class="num">${l.n}</td><td>${l.creator}${l.account === undefined ? '' : html`<br><small>held shares of ${l.account}, claimed</small>`}</td><td class="num">${l.flattrCount}</td><td class="num">${formatAmount(BigInt(l.amount))}</td><td>${(reasons.get(l.n) ?? []).join('; ') || '—'}</td></tr>`)}</tbody>
</table></div>`
}
${[...reasons.keys()].some((n) => !lines.some((l) => l.n === n)) ? html`<p>Disputed lines not in the document: ${[...reasons].filter(([n]) => !lines.some((l) => l.n === n)).map(([n, r]) => html`line ${n}: ${r.join('; ')}. `)}</p>` : ''}
${canAccept ? html`<h2>Accept</h2><form method="post" action="${base}/accept">${csrfField(csrf)}<p>Accepting credits the creators named in the lines.</p><button type="submit">Accept the statement</button>${actionAlert('accept')}</form>` : ''}
${
  canDispute
    ? html`<h2>Dispute a line</h2><form method="post" action="${base}/dispute">${csrfField(csrf)}
${formAlert(errorOf('dispute'), ['line', 'reason'])}
${field({ name: 'line', label: 'Line number', value: failed?.form === 'dispute' ? failed.values.line : undefined, error: errorOf('dispute'), required: true, inputmode: 'numeric' })}
${field({ name: 'reason', label: 'Reason', value: failed?.form === 'dispute' ? failed.values.reason : undefined, error: errorOf('dispute'), required: true, hint: 'sent to the issuing instance' })}
<button type="submit">Dispute the line</button></form>`
    : ''
}
${canCorrect ? html`<h2>Correct</h2><form method="post" action="${base}/correct">${csrfField(csrf)}<p>The flattrs are sent again and the next statement restates the period; it replaces this one.</p><button type="submit">Correct the statement</button>${actionAlert('correct')}</form>` : ''}
${failed && !(failed.form === 'accept' && canAccept) && !(failed.form === 'dispute' && canDispute) && !(failed.form === 'correct' && canCorrect) ? html`<div role="alert">${errorText(failed.error, `${failed.form}-error`)}</div>` : ''}
<p><a href="/admin/statements">All statements</a></p>`;
    const notice = failed
      ? undefined
      : noticeFor(request.query, {
          accepted: 'Statement accepted.',
          disputed: 'Dispute sent to the issuer.',
          corrected: 'Correction issued: this is the new statement.',
        });
    return sendPage(
      reply,
      page({ title: `Statement ${s.sequence} ${s.direction === 'in' ? 'from' : 'to'} ${s.peer}`, main, caller, csrf, notice }),
      failed?.error.status ?? 200,
    );
  };

  app.get<{ Params: { uuid: string } }>('/admin/statements/:uuid', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    return showStatement(request, reply, caller, uuidParam(request.params.uuid));
  });

  app.get<{ Params: { uuid: string } }>('/admin/statements/:uuid/document.json', async (request, reply) => {
    await requireAdminPage(ctx, request);
    const uuid = uuidParam(request.params.uuid);
    const document = await statementDocument(ctx, uuid);
    return reply.type('application/json').header('content-disposition', `attachment; filename="statement-${uuid}.json"`).send(document);
  });

  app.post<{ Params: { uuid: string } }>('/admin/statements/:uuid/accept', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const uuid = uuidParam(request.params.uuid);
    try {
      await acceptStatement(ctx, uuid);
      return reply.redirect(`/admin/statements/${uuid}?done=accepted`, 303);
    } catch (error) {
      return showStatement(request, reply, caller, uuid, { form: 'accept', values: {}, error: formError(error) });
    }
  });

  app.post<{ Params: { uuid: string } }>('/admin/statements/:uuid/dispute', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const uuid = uuidParam(request.params.uuid);
    try {
      const n = formInput(DisputeLineForm, request.body).line;
      const lines = (JSON.parse(await statementDocument(ctx, uuid)) as { lines?: DocumentLine[] }).lines ?? [];
      if (!lines.some((l) => l.n === n)) throw new AppError('invalid_request', `the statement has no line ${n}`, { field: 'line' });
      const { reason } = formInput(DisputeReasonForm, request.body);
      // The dispute names every disputed line: earlier reasons for other lines stay.
      const earlier = (await statementDetails(ctx, uuid)).dispute ?? [];
      await disputeStatement(
        ctx,
        uuid,
        [...earlier.filter((d) => d.n !== n), { n, reason }].sort((a, b) => a.n - b.n),
      );
      return reply.redirect(`/admin/statements/${uuid}?done=disputed`, 303);
    } catch (error) {
      return showStatement(request, reply, caller, uuid, {
        form: 'dispute',
        values: formValues(request.body, ['line', 'reason'], 500),
        error: formError(error),
      });
    }
  });

  app.post<{ Params: { uuid: string } }>('/admin/statements/:uuid/correct', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const uuid = uuidParam(request.params.uuid);
    try {
      const next = await correctStatement(ctx, uuid);
      return reply.redirect(`/admin/statements/${uuidOf(next.id)}?done=corrected`, 303);
    } catch (error) {
      return showStatement(request, reply, caller, uuid, { form: 'correct', values: {}, error: formError(error) });
    }
  });

  // ---- settlements -------------------------------------------------------------------------

  /** The due amount, who pays it, and what it carries or was paid with. */
  const dueText = (s: SettlementItem) => {
    if (s.due === null) return '—';
    const who = s.due_debtor === 'us' ? 'we pay' : s.due_debtor === 'peer' ? 'the peer pays' : 'nothing to pay';
    const covers = s.covers.length > 1 ? html`<br><small>for ${s.covers.join(', ')}</small>` : '';
    return html`${s.due} (${who})${covers}`;
  };
  const showSettlements = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, failed?: { id: string; values: Form; error: FormError }) => {
    const q = request.query as { period?: unknown };
    let error: FormError | undefined;
    let period: string | undefined;
    try {
      if (q.period !== undefined && q.period !== '') period = parsePeriod(q.period);
    } catch (refusal) {
      error = formError(refusal, 'period');
    }
    const rows = error ? [] : await listSettlements(ctx, period ? { period } : {});
    const csrf = csrfToken(reply);
    const mine = (id: string) => (failed?.id === id ? failed.error : undefined);
    const action = (s: (typeof rows)[number]) => {
      if (s.due_debtor === 'us' && s.state === 'accepted') {
        return html`<form method="post" action="/admin/settlements/${s.id}/paid" class="row">${csrfField(csrf)}
${field({ name: 'reference', id: `reference-${s.id}`, label: 'Payment reference', value: failed?.id === s.id ? failed.values.reference : undefined, error: mine(s.id), required: true })}
${formAlert(mine(s.id), ['reference'])}
<button type="submit">Record payment</button></form>`;
      }
      if (s.due_debtor === 'peer' && s.state === 'paid') {
        return html`<form method="post" action="/admin/settlements/${s.id}/confirm" class="row">${csrfField(csrf)}<button type="submit">Confirm receipt</button>${mine(s.id) ? errorText(mine(s.id) as FormError, `confirm-${s.id}-error`) : ''}</form>`;
      }
      return '—';
    };
    const shown =
      failed && rows.some((s) => s.id === failed.id && ((s.due_debtor === 'us' && s.state === 'accepted') || (s.due_debtor === 'peer' && s.state === 'paid')));
    const main = html`<p>One row per peer and month. The net is what one side still owes the other once both statements are accepted: the debtor records its payment with the bank's reference, the creditor confirms it arrived. A net left unpaid carries into the next month's: a payment covers its month and every earlier accepted month still unpaid (the due column).</p>
<form method="get" action="/admin/settlements" class="row">
${field({ name: 'period', label: 'Month (YYYY-MM)', value: typeof q.period === 'string' ? q.period.slice(0, 20) || undefined : undefined, error })}
<button type="submit">Show</button></form>
${failed && !shown ? html`<div role="alert">${errorText(failed.error, 'settlement-error')}</div>` : ''}
${
  rows.length === 0
    ? html`<p>No settlements${period ? html` for ${period}` : ''}.</p>`
    : html`<div class="scroll"><table>
<caption>Settlements${period ? html` of ${period}` : ''}</caption>
<thead><tr><th scope="col">Peer</th><th scope="col">Period</th><th scope="col" class="num">Payable (${c})</th><th scope="col" class="num">Receivable (${c})</th><th scope="col" class="num">Net (${c})</th><th scope="col">Who pays</th><th scope="col" class="num">Due (${c})</th><th scope="col">State</th><th scope="col">Reference</th><th scope="col">Action</th></tr></thead>
<tbody>${rows.map(
        (
          s,
        ) => html`<tr id="settlement-${s.id}"><td>${s.peer}</td><td>${s.period}</td><td class="num">${s.payable ?? '—'}</td><td class="num">${s.receivable ?? '—'}</td><td class="num">${s.net ?? '—'}</td>
<td>${s.debtor === 'us' ? 'we pay' : s.debtor === 'peer' ? 'the peer pays' : '—'}</td>
<td class="num">${dueText(s)}</td><td>${s.state}</td><td>${s.reference ? html`<span class="code">${s.reference}</span>` : '—'}</td><td>${action(s)}</td></tr>`,
      )}</tbody>
</table></div>`
}
<p><a href="/admin/peers">Peers</a> · <a href="/admin/statements">Statements</a></p>`;
    const notice =
      failed || error ? undefined : noticeFor(request.query, { paid: 'Payment recorded; the peer is told.', confirmed: 'Receipt confirmed: settled.' });
    return sendPage(
      reply,
      page({ title: 'Settlements', main, caller, csrf, notice, path: '/admin/settlements' }),
      failed?.error.status ?? error?.status ?? 200,
    );
  };

  app.get('/admin/settlements', async (request, reply) => showSettlements(request, reply, await requireAdminPage(ctx, request)));

  app.post<{ Params: { id: string } }>('/admin/settlements/:id/paid', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      const { reference } = formInput(SettlementPaidForm, request.body);
      await markPaid(ctx, request.params.id, reference);
      return reply.redirect('/admin/settlements?done=paid', 303);
    } catch (error) {
      return showSettlements(request, reply, caller, {
        id: request.params.id,
        values: formValues(request.body, ['reference'], 200),
        error: formError(error, 'reference'),
      });
    }
  });

  app.post<{ Params: { id: string } }>('/admin/settlements/:id/confirm', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      await confirmReceived(ctx, request.params.id);
      return reply.redirect('/admin/settlements?done=confirmed', 303);
    } catch (error) {
      return showSettlements(request, reply, caller, { id: request.params.id, values: {}, error: formError(error) });
    }
  });
}
