/**
 * Instances on real HTTP over loopback, for federation tests: each listens on 127.0.0.1 behind a
 * small switchable front (so a test can take a peer "down" and bring it back on the same
 * origin), with FARTHING_ALLOW_PRIVATE_ADDRESS so Fedify may reach it.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Test } from 'tap';
import type { DatabaseKind } from '../../src/db/database.ts';
import { startInstance, type TestInstance } from './instance.ts';

export interface NetworkedInstance extends TestInstance {
  origin: string;
  /** While down, the front answers every request 503, as a peer in trouble would. */
  setDown(down: boolean): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A front listening on its own port before its instance starts (so instances can name each other's origins in their configuration). */
export interface Front {
  origin: string;
  /** Where the front forwards to, once the instance listens. */
  attach(appPort: number): void;
  setDown(down: boolean): void;
}

export async function openFront(t: Test): Promise<Front> {
  // The front listens first and keeps its port: picking a free port and listening on it later
  // (after migrations) let a parallel test file take it in between (EADDRINUSE).
  let down = false;
  let appPort = 0;
  const front = createServer((req, res) => {
    if (down || appPort === 0) {
      req.resume();
      res.writeHead(503).end('down for maintenance');
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: appPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const port = await listen(front);
  t.teardown(() => close(front));
  return { origin: `http://127.0.0.1:${port}`, attach: (p) => void (appPort = p), setDown: (value) => void (down = value) };
}

export async function startNetworked(t: Test, kind: DatabaseKind, env: Record<string, string> = {}, reserved?: Front): Promise<NetworkedInstance> {
  const front = reserved ?? (await openFront(t));
  const origin = front.origin;
  const inst = await startInstance(t, kind, { env: { FARTHING_ORIGIN: origin, FARTHING_ALLOW_PRIVATE_ADDRESS: '1', ...env } });
  await inst.app.listen({ host: '127.0.0.1', port: 0 });
  front.attach((inst.app.server.address() as { port: number }).port);
  return Object.assign(inst, { origin, setDown: front.setDown });
}

/** The whole body of a request to a test server. */
export async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Polls until `check` answers a value (not undefined/false), or fails after `ms`; the failure
 * says what `explain` answers then (the state that kept it from happening).
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  ms = 20_000,
  what = 'the condition',
  explain?: () => Promise<unknown>,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) {
      const state = explain ? `; ${JSON.stringify(await explain(), (_key, v) => (typeof v === 'bigint' ? String(v) : v))}` : '';
      throw new Error(`${what} did not happen within ${ms} ms${state}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
