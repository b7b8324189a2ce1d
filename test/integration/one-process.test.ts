/**
 * One process per embedded database, and a shutdown that always ends (issue 14), tried with real
 * processes: a second `node src/main.ts` (or the CLI) on the same FARTHING_DATA_DIR refuses to
 * start and names the process that holds it; a lock left by a process that is gone is taken
 * over; SIGTERM ends the server, and ends it within its limit even when a step of the shutdown
 * hangs (a request whose body never finishes keeps the HTTP server from closing), saying what it
 * was waiting for.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { LOCK_FILE } from '../../src/db/data-dir-lock.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'farthing-one-process-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(script: string, args: string[] = [], extraEnv: Record<string, string> = {}): Run {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('FARTHING_') && k !== 'DATABASE_URL' && k !== 'PORT') env[k] = v;
  Object.assign(env, {
    NODE_ENV: 'test',
    FARTHING_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    FARTHING_AUTO_CLOSE: 'off',
    FARTHING_TEST_FAST_HASHING: '1',
    ...extraEnv,
  });
  const child = spawn(process.execPath, [script, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => void child.kill('SIGKILL'));
  return { child, output: () => text, exited };
}

async function until<T>(what: string, check: () => T | undefined | false, ms = 180_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The exit, or a failure after `ms`; the deadline's timer is cleared, so it keeps the file running no longer. */
async function exitWithin(r: Run, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms:\n${r.output()}`)), ms);
  });
  try {
    return await Promise.race([r.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function serve(env: Record<string, string> = {}): Promise<{ server: Run; port: number }> {
  const server = run('src/main.ts', [], env);
  const line = await until('the server serving', () => /"msg":"Farthing is serving"/.test(server.output()) && server.output());
  void line;
  await until('listening', () => /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output()));
  const port = Number(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output())?.[1]);
  return { server, port };
}

t.test('a second server or the CLI on the same data directory refuses, naming the holder; SIGTERM ends the server', async (t) => {
  const { server } = await serve();
  const lock = JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8'));
  t.equal(lock.pid, server.child.pid, 'the lock names the server');

  const second = run('src/main.ts');
  const secondExit = await exitWithin(second, 180_000);
  t.equal(secondExit.code, 3, 'the second server exits non-zero');
  t.match(second.output(), `is in use by process ${server.child.pid} (`, 'naming the process that holds it');
  t.match(second.output(), 'src/main.ts', 'and what it is');
  t.notMatch(second.output(), 'Farthing is serving');

  const cli = run('src/cli.ts', ['check']);
  t.equal((await exitWithin(cli, 180_000)).code, 3, 'the CLI too');
  t.match(cli.output(), `is in use by process ${server.child.pid}`);

  server.child.kill('SIGTERM');
  const stopped = await exitWithin(server, 30_000);
  t.equal(stopped.code, 0, 'SIGTERM ends the server');
  t.match(server.output(), '"msg":"shutting down"');
  t.notOk(existsSync(path.join(dataDir, LOCK_FILE)), 'and it lets go of the lock');
});

t.test('a lock left by a process that is gone is taken over', async (t) => {
  const gone = run('-e', ['']);
  await gone.exited;
  writeFileSync(path.join(dataDir, LOCK_FILE), `${JSON.stringify({ pid: gone.child.pid, command: 'node src/main.ts', since: '2026-11-01T00:00:00.000Z' })}\n`);
  const cli = run('src/cli.ts', ['check']);
  const exit = await exitWithin(cli, 180_000);
  t.equal(exit.code, 0, 'the CLI starts on a stale lock');
  t.match(cli.output(), '"balanced": true');
  t.notOk(existsSync(path.join(dataDir, LOCK_FILE)), 'released at the end');
});

t.test('SIGTERM ends the server within its limit when a shutdown step hangs, and says what it waited for', async (t) => {
  // Requests in flight may take 60 s (FARTHING_DRAIN_SECONDS), past the shutdown's 3 s limit.
  const { server, port } = await serve({ FARTHING_DRAIN_SECONDS: '60', FARTHING_SHUTDOWN_SECONDS: '3' });
  // A request whose body never finishes: the HTTP server cannot close while it is in flight.
  const socket = connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  // The server answers "100 Continue" once the request is being handled, so the SIGTERM below
  // comes while it is in flight, not before it arrived (then it would be refused with a 503).
  const handling = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => chunk.toString().includes('100 Continue') && resolve()));
  socket.write('POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n');
  await handling;
  socket.write('{"username":');
  const sent = Date.now();
  server.child.kill('SIGTERM');
  const stopped = await exitWithin(server, 60_000);
  t.ok(Date.now() - sent < 30_000, `ended (after ${Date.now() - sent} ms)`);
  t.not(stopped.code, 0, 'not a clean exit');
  t.match(server.output(), /shutdown did not finish in 3 s; it was waiting for the HTTP server/);
  t.notOk(existsSync(path.join(dataDir, LOCK_FILE)), 'the lock is released on exit');
});
