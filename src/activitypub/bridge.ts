/**
 * Hands federation requests to Fedify (there is no @fedify/fastify for Fedify 2). The hook runs
 * on `onRequest`, before fastify reads the body: an inbox must get the body byte for byte, since
 * the Digest header and the HTTP signature cover those exact bytes. Only federation paths go to
 * Fedify, so the JSON API never pays for it.
 *
 * What Fedify does not serve falls through to fastify's routes: a 404 for a GET and a 406 for
 * a browser asking for HTML (or for anything: any type, or no Accept), so a thing's page is served at its own IRI and
 * a member's profile page at their actor's.
 *
 * A POST's body is read here first, up to INBOX_BODY_LIMIT_BYTES (413 beyond), and an inbox
 * delivery must pass the key guard (key-guard.ts) before Fedify verifies its signature; Fedify
 * then handles it knowing the key that verified it, for the listeners' own check (inbox-auth.ts).
 */
import type { Federation } from '@fedify/fedify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isFederationPath, isInboxPath, isObjectPath } from '../core/iris.ts';
import { withVerifiedKey } from './inbox-auth.ts';
import { KeyGuard } from './key-guard.ts';

/** An activity is a few kilobytes; Mastodon refuses bodies over 1 MB. */
export const INBOX_BODY_LIMIT_BYTES = 256 * 1024;

export function installFederationBridge(app: FastifyInstance, federation: Federation<void>, origin: string): void {
  const guard = new KeyGuard(federation, origin);
  app.addHook('onRequest', async (request, reply) => {
    if (!isFederationPath(request.url)) return;
    const path = request.url.split('?', 1)[0]!;
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    // A thing's IRI is Fedify's for ActivityPub reads only; its forms and embeds are fastify's.
    if (isObjectPath(path) && hasBody) return;
    let body: Buffer | undefined;
    if (hasBody) {
      const read = await readBody(request);
      if (read === 'too_large') return refuse(reply, 413, 'payload_too_large', `the body is larger than ${INBOX_BODY_LIMIT_BYTES} bytes`);
      body = read;
    }
    const fetchRequest = toFetchRequest(request, origin, body);
    let verifiedKey: URL | undefined;
    if (body && isInboxPath(path)) {
      const checked = await guard.check(fetchRequest, body);
      if (!checked.ok) return refuse(reply, checked.status, checked.status === 400 ? 'invalid_request' : 'unauthorized', checked.message);
      verifiedKey = checked.keyId;
    }
    // Compared by identity: this very object means "not Fedify's, let fastify answer".
    const fallThrough = new Response(null, { status: 404 });
    const handle = () =>
      federation.fetch(fetchRequest, {
        contextData: undefined,
        // A POST Fedify does not take is a 404: the body has been read, fastify cannot read it again.
        ...(hasBody ? {} : { onNotFound: () => fallThrough }),
        // A thing's (or a period's) page is for anyone not asking for ActivityPub; an actor's
        // profile for browsers and for whoever takes any type (or sends no Accept).
        onNotAcceptable: (r) =>
          acceptsHtml(r) || acceptsAnything(r) || isObjectPath(path)
            ? fallThrough
            : new Response('Not Acceptable', { status: 406, headers: { Vary: 'Accept' } }),
      });
    const response = verifiedKey ? await withVerifiedKey(verifiedKey, handle) : await handle();
    if (response === fallThrough) return;
    reply.code(response.status);
    for (const [name, value] of response.headers) reply.header(name, value);
    return reply.send(Buffer.from(await response.arrayBuffer()));
  });
}

function refuse(reply: FastifyReply, status: number, code: string, message: string) {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ error: { code, message } }));
}

/** The raw body, byte for byte (the Digest and the signature cover it), or 'too_large'. */
async function readBody(request: FastifyRequest): Promise<Buffer | 'too_large'> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > INBOX_BODY_LIMIT_BYTES) {
    request.raw.resume(); // drain what the client sends; the answer does not wait for it
    return 'too_large';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw) {
    size += (chunk as Buffer).length;
    if (size > INBOX_BODY_LIMIT_BYTES) {
      request.raw.resume();
      return 'too_large';
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headersOf(request: FastifyRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.raw.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
  }
  return headers;
}

/**
 * The request as Fedify sees it: at the configured origin (what remote servers signed and what
 * our actor URLs say, whatever proxy is in front), with the body as it was received.
 */
export function toFetchRequest(request: FastifyRequest, origin: string, body: Buffer | undefined): Request {
  return new Request(`${origin}${request.url}`, { method: request.method, headers: headersOf(request), ...(body ? { body: new Uint8Array(body) } : {}) });
}

function acceptsAnything(request: Request): boolean {
  const accept = request.headers.get('accept');
  return accept === null || accept.trim() === '' || /(?:^|,)\s*\*\/\*/.test(accept);
}

function acceptsHtml(request: Request): boolean {
  return /\btext\/html\b|\bapplication\/xhtml\+xml\b/.test(request.headers.get('accept') ?? '');
}
