/**
 * Errors on pages: the same codes and messages as the JSON API (src/http/errors.ts), as an HTML
 * page with the same status. Forms catch their own refusals and show them next to the field;
 * what reaches this handler is everything else (a stale form, too many attempts, a missing
 * thing, a bug). The same page answers the page paths that no page route serves (a 404, the
 * router's refusals): buildApp hands renderErrorPage to the root handlers.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../context.ts';
import type { AppError } from '../core/errors.ts';
import { type ErrorPageRenderer, errorHandler } from '../http/errors.ts';
import { html, query } from './html.ts';
import { errorText, page, sendPage } from './layout.ts';
import { pageHeaders } from './security.ts';
import { currentMember, SignInRequired } from './session.ts';

export function installPageErrors(app: FastifyInstance, ctx: Context): void {
  const handle = errorHandler(renderErrorPage(ctx));
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error instanceof SignInRequired) return reply.redirect(`/signin${query({ next: error.next })}`, 303);
    return handle(error, request, reply);
  });
}

/** The HTML error page; the navigation still knows a signed-in member (unless the database is what failed). */
export function renderErrorPage(ctx: Context): ErrorPageRenderer {
  return async (request: FastifyRequest, reply: FastifyReply, known: AppError) => {
    // Outside the pages' plugin (a 404, a router refusal) there are no parsed cookies: no member.
    const caller = known.status >= 500 || !request.cookies ? undefined : await currentMember(ctx, request).catch(() => undefined);
    const body = page({
      title: titleFor(known.status),
      caller,
      main: html`<div role="alert">${errorText({ code: known.code, message: known.message, field: undefined, status: known.status })}</div>
<p><a href="/">Back to the front page</a></p>`,
    });
    pageHeaders(reply, undefined);
    return sendPage(reply, body, known.status);
  };
}

function titleFor(status: number): string {
  if (status === 404) return 'Not found';
  if (status === 429) return 'Too many attempts';
  if (status === 403 || status === 401) return 'Not allowed';
  if (status >= 500) return 'Something went wrong';
  return 'That did not work';
}
