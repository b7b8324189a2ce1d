/**
 * The clicks benchmark's baseline server: a bare fastify route that does one idempotent insert
 * through the same kind of pool as the instance. Runs as its own process, like the instance.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.ts';

const handle = await openDatabase({ url: process.env.DATABASE_URL, poolSize: 10 });
let n = 0;
const app = Fastify();
app.post('/bare', async (request) => {
  const body = request.body as { thing_id: string };
  const member = (n++ % 1_000_000) + 1;
  await sql`INSERT INTO bare_clicks (id, member_id, thing_id, created_at) VALUES (${randomUUID()}, ${member}, ${body.thing_id}, now())
            ON CONFLICT DO NOTHING`.execute(handle.db);
  return { ok: true };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('ready');
process.on('SIGTERM', async () => {
  await app.close();
  await handle.close();
  process.exit(0);
});
