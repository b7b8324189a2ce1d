/** Who is calling: a bearer token for the API (a session cookie for pages comes with the web). */
import type { FastifyRequest } from 'fastify';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { authenticateToken } from '../members/tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export async function requireCaller(ctx: Context, request: FastifyRequest): Promise<Caller> {
  if (request.caller) return request.caller;
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new AppError('unauthorized', 'send Authorization: Bearer <token>');
  request.caller = await authenticateToken(ctx, match[1] as string, 'api');
  return request.caller;
}

export async function requireAdmin(ctx: Context, request: FastifyRequest): Promise<Caller> {
  const caller = await requireCaller(ctx, request);
  if (caller.role !== 'admin') throw new AppError('forbidden', 'this needs an admin');
  return caller;
}
