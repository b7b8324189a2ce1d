/** What a visitor sees: the front page, signing up, signing in and out. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Context } from '../../context.ts';
import { isAppError } from '../../core/errors.ts';
import { formatAmount } from '../../core/money.ts';
import { retryAfterHeader } from '../../http/errors.ts';
import { registerMember, SignInInput, SignUpInput, signIn } from '../../members/service.ts';
import { formInput, formValues } from '../forms.ts';
import { html } from '../html.ts';
import { csrfField, type FormError, field, formAlert, formError, noticeFor, page, sendPage } from '../layout.ts';
import { seedsExample } from '../month.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { currentMember, endSession, safeNext, startSession } from '../session.ts';
import { seedsPicture } from '../svg.ts';

type Form = Record<string, string | undefined>;

export function visitorRoutes(app: FastifyInstance, ctx: Context): void {
  const authLimit = { rateLimit: { max: ctx.config.authRateLimit, timeWindow: '1 minute' } };
  const { currency } = ctx.config;

  app.get('/', async (request, reply) => {
    const caller = await currentMember(ctx, request);
    const seeds = seedsExample(ctx);
    const main = html`<p class="lead">Farthing is a flattr instance run by its community. You put money in your wallet and pick one
flat monthly budget. During the month you <em>flattr</em> what you liked — a blog post, a podcast episode, a fediverse post —
with one click. At the end of the month your budget is split equally among everything you flattred.
Clicking more never costs more: it only divides the same budget further.</p>
<h2>How a month works</h2>
<ol>
<li>Fund your wallet; an admin records the deposit.</li>
<li>Pick a budget between ${formatAmount(ctx.config.minBudget)} and ${formatAmount(ctx.config.maxBudget)} ${currency} a month.</li>
<li>Flattr things during the month, at most once each.</li>
<li>When the month ends, the budget is split equally among your flattrs; the instance keeps a ${seeds.feePercent}% fee from each share.</li>
</ol>
<figure>${seedsPicture(seeds)}
<figcaption>“If you have 5 Euros to spend and click on ten different buttons, each site owner will thus receive 45 cents” — and the instance keeps the rest.</figcaption>
</figure>
${
  caller
    ? html`<p><a class="button" href="/dashboard">Go to your dashboard</a></p>`
    : html`<p><a class="button" href="/signup">Sign up</a> or <a href="/signin">sign in</a>.</p>`
}`;
    return sendPage(reply, page({ title: 'Flattr what you like, with one flat budget', main, caller, csrf: caller && csrfToken(reply), path: '/' }));
  });

  const signUpPage = (reply: FastifyReply, values: Form, error?: FormError) => {
    const mode = ctx.config.registration;
    const closed = mode === 'closed';
    const main = closed
      ? html`<div role="alert"><p class="error">this instance is not taking new members <span class="code">(registration_closed)</span></p></div>`
      : html`<form method="post" action="/signup">
${csrfField(csrfToken(reply))}
${formAlert(error, mode === 'invite' ? ['username', 'password', 'invite'] : ['username', 'password'])}
${field({ name: 'username', label: 'Username', value: values.username, error, required: true, autocomplete: 'username', hint: '1 to 30 letters, digits or underscores' })}
${field({ name: 'password', label: 'Password', type: 'password', error, required: true, autocomplete: 'new-password', hint: 'at least 8 characters' })}
${mode === 'invite' ? field({ name: 'invite', label: 'Invite code', value: values.invite, error, required: true, hint: 'this instance is invite-only: ask a member for a code' }) : ''}
<button type="submit">Sign up</button>
</form>
<p>Already a member? <a href="/signin">Sign in</a>.</p>`;
    return sendPage(reply, page({ title: 'Sign up', main, path: '/signup' }), error?.status ?? (closed ? 403 : 200));
  };

  app.get('/signup', async (request, reply) => signUpPage(reply, { invite: stringOf((request.query as Form).invite) }));

  app.post('/signup', { config: authLimit, preHandler: csrfCheck(app) }, async (request, reply) => {
    try {
      const member = await registerMember(ctx, formInput(SignUpInput, request.body));
      await startSession(ctx, reply, member.id);
      return reply.redirect('/dashboard?done=welcome', 303);
    } catch (error) {
      return signUpPage(reply, formValues(request.body, ['username', 'invite'], 100), formError(error));
    }
  });

  const signInPage = (reply: FastifyReply, values: Form, error?: FormError) => {
    const main = html`<form method="post" action="/signin">
${csrfField(csrfToken(reply))}
<input type="hidden" name="next" value="${safeNext(values.next)}">
${formAlert(error, ['username', 'password'])}
${field({ name: 'username', label: 'Username', value: values.username, error, required: true, autocomplete: 'username' })}
${field({ name: 'password', label: 'Password', type: 'password', error, required: true, autocomplete: 'current-password' })}
<button type="submit">Sign in</button>
</form>
<p>New here? <a href="/signup">Sign up</a>.</p>`;
    return sendPage(reply, page({ title: 'Sign in', main, path: '/signin', notice: values.notice }), error?.status ?? 200);
  };

  app.get('/signin', async (request, reply) => {
    const next = (request.query as Form).next;
    // Already signed in (say, coming from a button inside another site's iframe): go straight on.
    if (await currentMember(ctx, request)) return reply.redirect(safeNext(next), 303);
    return signInPage(reply, { next, notice: noticeFor(request.query, { signedout: 'You are signed out.' }) });
  });

  // Counted by the sign-in limits with every other password entry point (src/members/sign-in-limits.ts).
  app.post('/signin', { config: { passwordEntry: true }, preHandler: csrfCheck(app) }, async (request, reply) => {
    // One past safeNext's limit: a longer `next` is refused, not cut to a path.
    const { next } = formValues(request.body, ['next'], 2001);
    try {
      const member = await signIn(ctx, formInput(SignInInput, request.body), request.ip);
      await startSession(ctx, reply, member.id);
      return reply.redirect(safeNext(next), 303);
    } catch (error) {
      if (isAppError(error)) retryAfterHeader(reply, error);
      return signInPage(reply, { ...formValues(request.body, ['username'], 100), next }, formError(error));
    }
  });

  app.post('/signout', { preHandler: csrfCheck(app) }, async (request, reply) => {
    await endSession(ctx, request, reply);
    return reply.redirect('/signin?done=signedout', 303);
  });
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 100 ? value : undefined;
}
