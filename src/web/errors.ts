/**
 * Errors on pages: the same codes and messages as the JSON API (src/http/errors.ts), as an HTML
 * page with the same status. Forms catch their own refusals and show them next to the field;
 * what reaches this handler is everything else (a stale form, too many attempts, a missing
 * thing, a bug).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Context } from '../context.ts';
import { AppError, type ErrorCode, isAppError } from '../core/errors.ts';
import { amountTooLarge } from '../core/money.ts';
import { isBalanceOverflow } from '../db/errors.ts';
import { html, query } from './html.ts';
import { errorText, page, sendPage } from './layout.ts';
import { currentMember, SignInRequired } from './session.ts';

function fromFastify(error: FastifyError): AppError | undefined {
  if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
    return new AppError('forbidden', 'this form has expired or was not sent from this site: go back, reload the page and send it again');
  }
  const byStatus: Partial<Record<number, ErrorCode>> = {
    400: 'invalid_request',
    403: 'forbidden',
    404: 'not_found',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    429: 'rate_limited',
  };
  const code = byStatus[error.statusCode ?? 500];
  return code ? new AppError(code, error.message) : undefined;
}

export function installPageErrors(app: FastifyInstance, ctx: Context): void {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error instanceof SignInRequired) return reply.redirect(`/signin${query({ next: error.next })}`, 303);
    let known = isAppError(error) ? error : isBalanceOverflow(error) ? amountTooLarge() : fromFastify(error);
    if (!known) {
      request.log.error({ err: error }, 'page failed');
      known = new AppError('internal', 'something went wrong on our side; it has been logged');
    }
    if (known.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
    // The navigation still knows a signed-in member (unless the database is what failed).
    const caller = known.status >= 500 ? undefined : await currentMember(ctx, request).catch(() => undefined);
    const body = page({
      title: titleFor(known.status),
      caller,
      main: html`<div role="alert">${errorText({ code: known.code, message: known.message, field: undefined, status: known.status })}</div>
<p><a href="/">Back to the front page</a></p>`,
    });
    return sendPage(reply, body, known.status);
  });
}

function titleFor(status: number): string {
  if (status === 404) return 'Not found';
  if (status === 429) return 'Too many attempts';
  if (status === 403 || status === 401) return 'Not allowed';
  if (status >= 500) return 'Something went wrong';
  return 'That did not work';
}
