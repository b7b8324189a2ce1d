/**
 * Hands federation requests to Fedify (there is no @fedify/fastify for Fedify 2). The hook runs
 * on `onRequest`, before fastify reads the body: an inbox must get the body byte for byte, since
 * the Digest header and the HTTP signature cover those exact bytes. Only federation paths go to
 * Fedify, so the JSON API never pays for it.
 *
 * What Fedify does not serve falls through to fastify's routes: a 404 (unless Fedify has taken
 * the body) and a 406 for a browser asking for HTML, so profile pages can later be served at
 * the actors' own URLs.
 */
import { Readable } from 'node:stream';
import type { Federation } from '@fedify/fedify';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export function isFederationPath(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return (
    path === '/.well-known/webfinger' ||
    path === '/.well-known/nodeinfo' ||
    path.startsWith('/nodeinfo/') ||
    path.startsWith('/users/') ||
    path === '/actor' ||
    path === '/inbox'
  );
}

export function installFederationBridge(app: FastifyInstance, federation: Federation<void>, origin: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!isFederationPath(request.url)) return;
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    // Compared by identity: this very object means "not Fedify's, let fastify answer".
    const fallThrough = new Response(null, { status: 404 });
    const response = await federation.fetch(toFetchRequest(request, origin, hasBody), {
      contextData: undefined,
      // A body Fedify may have read cannot be read again, so such a 404 is Fedify's to give.
      ...(hasBody ? {} : { onNotFound: () => fallThrough }),
      onNotAcceptable: (r) => (acceptsHtml(r) ? fallThrough : new Response('Not Acceptable', { status: 406, headers: { Vary: 'Accept' } })),
    });
    if (response === fallThrough) return;
    reply.code(response.status);
    response.headers.forEach((value, name) => reply.header(name, value));
    return reply.send(Buffer.from(await response.arrayBuffer()));
  });
}

/**
 * The request as Fedify sees it: at the configured origin (what remote servers signed and what
 * our actor URLs say, whatever proxy is in front), with the raw body as a stream.
 */
function toFetchRequest(request: FastifyRequest, origin: string, hasBody: boolean): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.raw.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
  }
  // `duplex: 'half'` is how Node's fetch takes a streamed request body.
  const body = hasBody ? { body: Readable.toWeb(request.raw) as ReadableStream, duplex: 'half' } : {};
  return new Request(`${origin}${request.url}`, { method: request.method, headers, ...body } as RequestInit);
}

function acceptsHtml(request: Request): boolean {
  return /\btext\/html\b|\bapplication\/xhtml\+xml\b/.test(request.headers.get('accept') ?? '');
}
