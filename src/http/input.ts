/** Small helpers that turn request parts into checked values. */
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { type Period, parsePeriod, periodOf } from '../core/period.ts';

/** The JSON body as an object; anything else is `invalid_request`. */
export function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('invalid_request', 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export function queryOf(request: FastifyRequest): Record<string, unknown> {
  return (request.query ?? {}) as Record<string, unknown>;
}

/** ?period=YYYY-MM, the current period when absent. */
export function periodParam(ctx: Context, request: FastifyRequest): Period {
  const value = queryOf(request).period;
  return value === undefined || value === '' ? periodOf(ctx.clock.now()) : parsePeriod(value);
}

export function wantsCsv(request: FastifyRequest): boolean {
  return queryOf(request).format === 'csv' || (request.headers.accept ?? '').startsWith('text/csv');
}
