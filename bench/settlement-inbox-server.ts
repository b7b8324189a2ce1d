/**
 * The settlement-inbox memory benchmark's servers, each its own process so its resident memory
 * is its own: `farthing` (a whole instance on an embedded database in a temporary directory) or
 * `baseline` (a bare fastify route that buffers the body before looking at it, up to 64 MiB, as
 * the settlement inbox did before issue 12). Prints "ready" once listening on PORT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { testConfig } from '../src/config.ts';
import { createInstance } from '../src/instance.ts';

const port = Number(process.env.PORT);
const which = process.argv[2];
let stop: () => Promise<void>;
if (which === 'baseline') {
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_request, body, done) => done(null, body));
  app.post('/settlement/inbox', async (request, reply) => {
    const body = request.body as Buffer;
    const copy = new Uint8Array(body); // the old route copied it into a Request for the signature check
    return reply.code(401).send({ error: { code: 'unauthorized', message: `unsigned (${copy.length} bytes read)` } });
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.listen({ port, host: '127.0.0.1' });
  stop = () => app.close();
} else {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'farthing-bench-'));
  const instance = await createInstance(testConfig({ FARTHING_ORIGIN: `http://127.0.0.1:${port}`, FARTHING_DATA_DIR: dataDir }), { queueWorker: false });
  await instance.app.listen({ port, host: '127.0.0.1' });
  stop = async () => {
    await instance.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
console.log('ready');
process.on('SIGTERM', async () => {
  await stop();
  process.exit(0);
});
