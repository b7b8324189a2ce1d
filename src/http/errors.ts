/**
 * The one place where errors become HTTP answers: {"error": {"code", "message"}} on the JSON API,
 * an HTML error page on the pages (the surface is decided by the path: surfaceOf).
 * Client errors say what was wrong; server errors are logged in full and answered without detail.
 *
 * Every error fastify or the router raises goes through here, not only the ones a handler throws:
 * the router's own refusals (a path parameter over 100 characters, fastify's maxParamLength, a malformed path) through
 * fastify's `frameworkErrors`, a URL over URL_LIMIT through an onRequest check, a malformed request
 * head (too large, not HTTP) through `clientErrorHandler` (frameworkOptions below). Any 4xx keeps
 * its status with a code of the contract; nothing but a bug answers 500.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { AppError, type ErrorCode, isAppError } from '../core/errors.ts';
import { isJsonPath, isOAuthTokenUrl } from '../core/iris.ts';
import { amountTooLarge } from '../core/money.ts';
import { isBalanceOverflow } from '../db/errors.ts';

export function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { error: { code, message, ...(details ?? {}) } };
}

/** Longer URLs are 414 uri_too_long (Node itself refuses a request head over 16 KB). */
export const URL_LIMIT = 8192;

/** Paths answered in JSON: the API, OAuth's token endpoints, health, federation and webhooks from Stripe (src/core/iris.ts isJsonPath). Everything else is a page. */
export function surfaceOf(url: string): 'api' | 'page' {
  return isJsonPath(url) ? 'api' : 'page';
}

const BY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'header_fields_too_large',
};

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  payload_too_large: 'the request body is too large',
  uri_too_long: 'the address is too long (a path part over 100 characters, or a URL over 8192)',
  header_fields_too_large: 'the request headers are too large',
};

/**
 * An error of the framework (fastify, a plugin, the router) as an AppError: every 4xx keeps a code
 * of the contract (an unusual one is invalid_request); a 5xx or an error without a status is ours
 * to log and answers undefined.
 */
export function fromFramework(error: FastifyError): AppError | undefined {
  if (isAppError(error)) return error;
  // A balance past the ledger's maximum (the database's check): 422 amount_too_large.
  if (isBalanceOverflow(error)) return amountTooLarge();
  if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
    return new AppError('forbidden', 'this form has expired or was not sent from this site: go back, reload the page and send it again');
  }
  const status = error.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const code = BY_STATUS[status] ?? 'invalid_request';
  return new AppError(code, MESSAGES[code] ?? (oneLine(error.message) || code.replace(/_/g, ' ')));
}

/** A framework message may quote the request (a path, a header): one line, bounded. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 300);
}

/** How a page-surface error is shown when no page route is there to show it (a 404, a router refusal). */
export type ErrorPageRenderer = (request: FastifyRequest, reply: FastifyReply, error: AppError) => FastifyReply | Promise<FastifyReply>;

/** The Retry-After an error asks for (a limiter says how long; otherwise a minute). */
export function retryAfterHeader(reply: FastifyReply, error: AppError): void {
  if (error.status !== 429 || reply.hasHeader('retry-after')) return;
  const seconds = error.details?.retry_after;
  reply.header('retry-after', String(typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : 60));
}

export function installErrorHandling(app: FastifyInstance, renderPage: ErrorPageRenderer): void {
  app.setErrorHandler(errorHandler(renderPage));
  app.setNotFoundHandler((request, reply) =>
    answer(request, reply, new AppError('not_found', `nothing at ${request.method} ${oneLine(request.url.split('?')[0] as string).slice(0, 200)}`), renderPage),
  );
  // The router's refusals get no route, so they come here and not to a plugin's own handler.
  app.addHook('onRequest', async (request) => {
    if (request.url.length > URL_LIMIT) throw new AppError('uri_too_long', MESSAGES.uri_too_long as string);
  });
}

export function errorHandler(renderPage: ErrorPageRenderer) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let known = fromFramework(error);
    if (!known) {
      request.log.error({ err: error }, 'request failed');
      known = new AppError('internal', 'something went wrong on our side; it has been logged');
    }
    return answer(request, reply, known, renderPage);
  };
}

function answer(request: FastifyRequest, reply: FastifyReply, error: AppError, renderPage: ErrorPageRenderer) {
  retryAfterHeader(reply, error);
  if (surfaceOf(request.url) === 'page') return renderPage(request, reply, error);
  if (isOAuthTokenUrl(request.url) && error.code === 'invalid_request') {
    // OAuth clients read OAuth's error shape (RFC 6749 5.2) from these two.
    return reply.status(400).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: error.message });
  }
  return reply.status(error.status).send(errorBody(error.code, error.message, error.details));
}

/**
 * Options for Fastify(): the router's refusals (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH) go to
 * the error handler above, and a request head Node cannot take (too large, malformed) is answered
 * in the same shape, JSON or HTML by the path in its first line when one can be read.
 */
export function frameworkOptions(renderPage: ErrorPageRenderer): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> {
  const handler = errorHandler(renderPage);
  return {
    frameworkErrors: (error, request, reply) => {
      void handler(error as FastifyError, request, reply);
    },
    clientErrorHandler: (error, socket: Socket) => {
      if (error.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
      const status = tooLarge ? 431 : error.code === 'HPE_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const code = BY_STATUS[status] as ErrorCode;
      const message = tooLarge
        ? (MESSAGES.header_fields_too_large as string)
        : status === 408
          ? 'the request took too long to arrive'
          : 'the request is not well-formed HTTP';
      const raw: unknown = (error as { rawPacket?: unknown }).rawPacket;
      const firstLine = Buffer.isBuffer(raw) ? (raw.toString('latin1').split('\r\n', 1)[0] ?? '') : '';
      const path = /^[A-Z]+ (\/\S*)/.exec(firstLine)?.[1];
      const isPage = path !== undefined && surfaceOf(path) === 'page';
      const body = isPage
        ? `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>That did not work · Farthing</title></head><body><main><h1>That did not work</h1><p class="error">${message} <span class="code">(${code})</span></p><p><a href="/">Back to the front page</a></p></main></body></html>\n`
        : JSON.stringify(errorBody(code, message));
      const type = isPage ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8';
      socket.end(
        `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  };
}
