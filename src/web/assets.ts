/**
 * The one stylesheet and the icon, served from /assets. The stylesheet's URL carries a digest of
 * its content, so browsers may keep it for a year and still see a new version at once.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const STYLESHEET = readFileSync(new URL('./assets/farthing.css', import.meta.url), 'utf8');
const ICON = readFileSync(new URL('./assets/farthing.svg', import.meta.url), 'utf8');
const VERSION = createHash('sha256').update(STYLESHEET).digest('hex').slice(0, 12);

export const STYLESHEET_HREF = `/assets/farthing.css?v=${VERSION}`;

export function assetRoutes(app: FastifyInstance): void {
  app.get('/assets/farthing.css', async (request, reply) => {
    const current = (request.query as { v?: string }).v === VERSION;
    return reply
      .type('text/css; charset=utf-8')
      .header('cache-control', current ? 'public, max-age=31536000, immutable' : 'public, max-age=300')
      .send(STYLESHEET);
  });
  app.get('/assets/farthing.svg', async (_request, reply) => reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(ICON));
}
