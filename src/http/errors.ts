/**
 * The one place where errors become HTTP answers: {"error": {"code", "message"}}.
 * Client errors say what was wrong; server errors are logged in full and answered without detail.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, isAppError } from '../core/errors.ts';
import { amountTooLarge } from '../core/money.ts';
import { isBalanceOverflow } from '../db/errors.ts';

export function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { error: { code, message, ...(details ?? {}) } };
}

function fromFastify(error: FastifyError): AppError | undefined {
  const status = error.statusCode ?? 500;
  const byStatus: Partial<Record<number, ErrorCode>> = {
    400: 'invalid_request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not_found',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    429: 'rate_limited',
  };
  const code = byStatus[status];
  if (!code) return undefined;
  const message = code === 'payload_too_large' ? 'the request body is too large' : error.message;
  return new AppError(code, message);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const known = isAppError(error) ? error : isBalanceOverflow(error) ? amountTooLarge() : fromFastify(error);
    if (known) {
      if (known.status === 429 && !reply.getHeader('retry-after')) reply.header('retry-after', '60');
      return reply.status(known.status).send(errorBody(known.code, known.message, known.details));
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send(errorBody('internal', 'something went wrong on our side; it has been logged'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('not_found', `nothing at ${request.method} ${request.url.split('?')[0]}`)),
  );
}
