/**
 * The bank rails on the pages: the wallet's "add money by bank transfer" section (account,
 * reference, EPC QR code), the member's payout account form, and the admin's pages to import a
 * camt.053 statement (a file upload), decide unmatched entries, and export the SEPA payout file.
 * Every write goes through the same service as the API.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MAX_STATEMENT_BYTES } from '../../banking/camt053.ts';
import { depositInstructions } from '../../banking/deposit-instructions.ts';
import { assignBankEntry, type BankEntryView, ignoreBankEntry, listBankEntries } from '../../banking/entries.ts';
import { parseMultipart } from '../../banking/form-upload.ts';
import { friendlyIban } from '../../banking/iban.ts';
import { PayoutAccountInput, payoutAccountOf, setPayoutAccount } from '../../banking/payout-account.ts';
import { friendlyRf } from '../../banking/rf-reference.ts';
import { exportSepaBatch, listSepaBatches, sepaBatch } from '../../banking/sepa-export.ts';
import { type ImportedEntry, type ImportResult, importBankStatement } from '../../banking/statement-import.ts';
import type { Caller, Context } from '../../context.ts';
import { rule } from '../../core/input.ts';
import { formInput, formValues } from '../forms.ts';
import { type Html, html, raw } from '../html.ts';
import { csrfField, errorText, type FormError, field, formAlert, formError, noticeFor, page, sendPage } from '../layout.ts';
import { fileField } from '../multipart.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireAdminPage, requireMemberPage } from '../session.ts';

type Form = Record<string, string | undefined>;

/** The wallet page's section: how to add money by bank transfer, and where payouts go. */
/** The bank page's assign form: one field, a username or a transfer reference (RF…), as AssignEntryInput takes them. */
const AssignForm = z.object({ who: rule(z.unknown().optional(), (value) => String(value ?? '').trim()) });

export async function bankSection(ctx: Context, caller: Caller): Promise<Html> {
  const [how, account] = await Promise.all([depositInstructions(ctx, caller), payoutAccountOf(ctx.db, caller.id)]);
  const deposit = how.iban
    ? html`<p>Transfer any amount to the instance's bank account with your personal reference. It reaches your wallet when the admin imports the bank's statement.</p>
<dl class="bank">
<dt>Account holder</dt><dd>${how.holder}</dd>
<dt>IBAN</dt><dd class="code">${friendlyIban(how.iban)}</dd>
${how.bic ? html`<dt>BIC</dt><dd class="code">${how.bic}</dd>` : ''}
<dt>Reference</dt><dd class="code">${friendlyRf(how.reference)}</dd>
</dl>
${how.qr_svg ? html`<figure class="qr">${raw(how.qr_svg.replace('<svg ', '<svg width="200" height="200" role="img" aria-label="EPC QR code of this transfer" '))}<figcaption>Scan it with your banking app (GiroCode): it fills in the account and your reference.</figcaption></figure>` : ''}`
    : html`<p>Deposits are arranged with the admin: this instance has no bank account for transfers. Your personal reference is <span class="code">${friendlyRf(how.reference)}</span>.</p>`;
  return html`<h2 id="deposit">Add money by bank transfer</h2>
${deposit}
<h2 id="payout-account">Payout account</h2>
${
  account
    ? html`<p>Payouts are sent by SEPA transfer to <span class="code">${friendlyIban(account.iban)}</span> (${account.holder}). <a href="/payouts/account">Change it</a>.</p>`
    : html`<p>You have not given a payout account yet. <a href="/payouts/account">Give one</a> so that payouts can be sent by SEPA transfer.</p>`
}`;
}

function entryRows(entries: (ImportedEntry | BankEntryView)[], csrf?: string): Html {
  return html`<div class="scroll"><table>
<thead><tr><th scope="col">Entry</th><th scope="col">Booked</th><th scope="col">Direction</th><th scope="col" class="num">Amount</th><th scope="col">From / to</th><th scope="col">Remittance</th><th scope="col">Member or payouts</th><th scope="col">Why</th>${csrf ? html`<th scope="col">Decide</th>` : ''}</tr></thead>
<tbody>${entries.map(
    (
      e,
    ) => html`<tr><td class="code">${e.entry_ref ?? '—'}</td><td>${e.booked_on ?? '—'}</td><td>${e.direction}</td><td class="num">${e.amount}</td><td>${e.counterparty ?? '—'}</td><td>${e.remittance ?? '—'}</td><td>${e.member ?? (e.payouts.length ? e.payouts.join(', ') : '—')}</td><td>${e.reason ?? e.state ?? ''}</td>
${
  csrf && e.id && e.state === 'unmatched'
    ? html`<td>${
        e.direction === 'credit'
          ? html`<form method="post" action="/admin/bank/entries/${e.id}/assign" class="row">${csrfField(csrf)}
<label for="who-${e.id}">Member or reference</label><input id="who-${e.id}" name="who" required><button type="submit">Assign</button></form>`
          : ''
      }
<form method="post" action="/admin/bank/entries/${e.id}/ignore" class="inline">${csrfField(csrf)}<button type="submit">Ignore</button></form></td>`
    : csrf
      ? html`<td></td>`
      : ''
}</tr>`,
  )}</tbody>
</table></div>`;
}

function importSummary(result: ImportResult): Html {
  const list = (title: string, items: ImportedEntry[]) => html`<h3>${title} (${items.length})</h3>${items.length ? entryRows(items) : html`<p>None.</p>`}`;
  return html`<section aria-labelledby="result"><h2 id="result">Imported ${result.version} ${result.message_id}</h2>
${list('Matched', result.matched)}${list('Unmatched', result.unmatched)}${list('Already imported', result.duplicates)}${result.skipped.length ? list('Not booked yet', result.skipped) : ''}</section>`;
}

export function bankPages(app: FastifyInstance, ctx: Context): void {
  const showAccount = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, values: Form = {}, error?: FormError) => {
    const account = await payoutAccountOf(ctx.db, caller.id);
    const csrf = csrfToken(reply);
    const main = html`<p>Payouts are sent by SEPA credit transfer to this account.</p>
<form method="post" action="/payouts/account">${csrfField(csrf)}
${formAlert(error, ['iban', 'holder'])}
${field({ name: 'iban', label: 'IBAN', value: values.iban ?? (account ? friendlyIban(account.iban) : undefined), error, required: true, autocomplete: 'off' })}
${field({ name: 'holder', label: 'Account holder', value: values.holder ?? account?.holder, error, required: true, autocomplete: 'name' })}
<button type="submit">Save the payout account</button></form>
<p><a href="/payouts">Back to your wallet</a></p>`;
    const notice = error ? undefined : noticeFor(request.query, { saved: 'Payout account saved.' });
    return sendPage(reply, page({ title: 'Payout account', main, caller, csrf, notice, path: '/payouts' }), error?.status ?? 200);
  };

  app.get('/payouts/account', async (request, reply) => showAccount(request, reply, await requireMemberPage(ctx, request)));
  app.post('/payouts/account', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    try {
      await setPayoutAccount(ctx, caller, formInput(PayoutAccountInput, request.body));
      return reply.redirect('/payouts/account?done=saved', 303);
    } catch (error) {
      return showAccount(request, reply, caller, formValues(request.body, ['iban', 'holder'], 200), formError(error, 'iban'));
    }
  });

  const showBank = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, result?: ImportResult, error?: FormError) => {
    const csrf = csrfToken(reply);
    const open = await listBankEntries(ctx, { state: 'unmatched' });
    const main = html`${ctx.config.bank ? '' : html`<p role="alert">This instance has no bank account (FARTHING_BANK_IBAN, FARTHING_BANK_HOLDER): statements cannot be imported.</p>`}
<p>Upload the bank's account statement (camt.053, versions 001.02 and 001.08). Transfers that carry a member's reference become their deposits; debits of exported payouts mark them paid. Importing a file again, or one that overlaps, books nothing twice.</p>
<form method="post" action="/admin/bank" enctype="multipart/form-data">${csrfField(csrf)}
<div class="field${error ? ' invalid' : ''}"><label for="statement">Statement file (XML)</label>
<input id="statement" name="statement" type="file" accept=".xml,application/xml,text/xml" required${error ? html` aria-invalid="true" aria-describedby="statement-error"` : ''}>
${error ? errorText(error, 'statement-error') : ''}</div>
<button type="submit">Import the statement</button></form>
${result ? importSummary(result) : ''}
<h2 id="unmatched">Waiting for you (${open.length})</h2>
${open.length ? entryRows(open, csrf) : html`<p>No unmatched entries.</p>`}`;
    const notice = error || result ? undefined : noticeFor(request.query, { assigned: 'Entry assigned: the deposit is booked.', ignored: 'Entry set aside.' });
    return sendPage(reply, page({ title: 'Bank statements', main, caller, csrf, notice, path: '/admin' }), error?.status ?? 200);
  };

  app.get('/admin/bank', async (request, reply) => showBank(request, reply, await requireAdminPage(ctx, request)));

  // The upload: multipart/form-data read here (src/banking/form-upload.ts), bounded like the API's.
  void app.register(async (upload) => {
    upload.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: MAX_STATEMENT_BYTES + 64 * 1024 }, (request, body, done) => {
      const parts = parseMultipart(body as Buffer, String(request.headers['content-type'] ?? ''));
      if (!parts) return done(Object.assign(new Error('the upload could not be read'), { statusCode: 400 }), undefined);
      done(null, parts);
    });
    upload.post('/admin/bank', { bodyLimit: MAX_STATEMENT_BYTES + 64 * 1024, preHandler: csrfCheck(upload) }, async (request, reply) => {
      const caller = await requireAdminPage(ctx, request);
      try {
        // An empty file is read as a statement, and refused in its words, as before.
        const file = fileField(request.body, 'statement', 'choose the statement file to upload', { allowEmpty: true });
        return await showBank(request, reply, caller, await importBankStatement(ctx, file));
      } catch (error) {
        return showBank(request, reply, caller, undefined, formError(error, 'statement'));
      }
    });
  });

  app.post<{ Params: { id: string } }>('/admin/bank/entries/:id/assign', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      const { who } = formInput(AssignForm, request.body);
      await assignBankEntry(ctx, request.params.id, /^rf/i.test(who) ? { reference: who } : { username: who });
      return reply.redirect('/admin/bank?done=assigned', 303);
    } catch (error) {
      return showBank(request, reply, caller, undefined, formError(error));
    }
  });

  app.post<{ Params: { id: string } }>('/admin/bank/entries/:id/ignore', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      await ignoreBankEntry(ctx, request.params.id);
      return reply.redirect('/admin/bank?done=ignored', 303);
    } catch (error) {
      return showBank(request, reply, caller, undefined, formError(error));
    }
  });

  const showSepa = async (_request: FastifyRequest, reply: FastifyReply, caller: Caller, error?: FormError) => {
    const csrf = csrfToken(reply);
    const { items, left_out } = await listSepaBatches(ctx);
    const main = html`<p>Export the requested payouts as a SEPA credit transfer file (pain.001.001.03) to upload to the bank. They become <em>exported</em>, and <em>paid</em> when an imported bank statement shows the debit (or when you mark them paid).</p>
<form method="post" action="/admin/payouts/sepa">${csrfField(csrf)}${error ? html`<div role="alert">${errorText(error)}</div>` : ''}
<button type="submit">Export the requested payouts</button></form>
<h2>Left out of the next file (${left_out.length})</h2>
${left_out.length ? html`<ul>${left_out.map((l) => html`<li>${l.username}, ${l.amount}: ${l.reason}</li>`)}</ul>` : html`<p>None.</p>`}
<h2>Files</h2>
${
  items.length
    ? html`<div class="scroll"><table><thead><tr><th scope="col">File</th><th scope="col">Made</th><th scope="col" class="num">Payouts</th><th scope="col" class="num">Total</th><th scope="col" class="num">Paid</th></tr></thead>
<tbody>${items.map((b) => html`<tr><td><a href="/admin/payouts/sepa/${b.id}.xml">${b.id}</a></td><td>${b.created_at.slice(0, 16).replace('T', ' ')}</td><td class="num">${b.payouts}</td><td class="num">${b.total}</td><td class="num">${b.paid}</td></tr>`)}</tbody></table></div>`
    : html`<p>No files yet.</p>`
}`;
    return sendPage(reply, page({ title: 'SEPA payout files', main, caller, csrf, path: '/admin' }), error?.status ?? 200);
  };

  app.get('/admin/payouts/sepa', async (request, reply) => showSepa(request, reply, await requireAdminPage(ctx, request)));
  app.post('/admin/payouts/sepa', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      const result = await exportSepaBatch(ctx);
      return reply.redirect(`/admin/payouts/sepa/${result.batch.id}.xml`, 303);
    } catch (error) {
      return showSepa(request, reply, caller, formError(error));
    }
  });
  app.get<{ Params: { file: string } }>('/admin/payouts/sepa/:file', async (request, reply) => {
    await requireAdminPage(ctx, request);
    const id = request.params.file.replace(/\.xml$/, '');
    const { document } = await sepaBatch(ctx, id);
    return reply.type('application/xml; charset=utf-8').header('content-disposition', `attachment; filename="${id}.xml"`).send(document);
  });
}
