/**
 * Settlement inbox memory (issue 12): N concurrent unsigned posts of SIZE MiB each to
 * POST /settlement/inbox, and /healthz asked while they run. Prints each server's resident
 * memory before, at its peak during, and after the posts. The baseline, measured in the same run,
 * is a bare fastify route that buffers the body before checking anything (what the inbox did
 * before: 12 such posts of 60 MiB took it from 209 MB to 990 MB). Target: Farthing's growth
 * stays under 64 MB whatever N and SIZE (it reads nothing of an unsigned body).
 *
 * BENCH_SETTLEMENT_POSTS (default 12) and BENCH_SETTLEMENT_MIB (default 60) change the load.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { freePort } from '../test/helpers/network.ts';
import { verdict } from './util.ts';

const POSTS = Number(process.env.BENCH_SETTLEMENT_POSTS ?? 12);
const MIB = Number(process.env.BENCH_SETTLEMENT_MIB ?? 60);
const CHUNK = Buffer.alloc(1024 * 1024, 0x7b);
const TARGET_GROWTH_MB = 64;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function start(which: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'settlement-inbox-server.ts'), which], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${which} server exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** One unsigned post of MIB MiB (declared, or chunked), streamed from one shared chunk; answers the status. */
function post(url: string, declared: boolean): Promise<number> {
  return new Promise((resolve) => {
    const target = new URL(`${url}/settlement/inbox`);
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(declared ? { 'content-length': String(MIB * CHUNK.length) } : {}) },
    });
    let status = 0;
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => resolve(status));
    });
    req.on('error', () => resolve(status || -1));
    let sent = 0;
    const write = () => {
      while (sent < MIB) {
        sent++;
        if (!req.write(CHUNK)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

async function measure(which: string) {
  const { child, url } = await start(which);
  try {
    await fetch(`${url}/healthz`);
    const before = rssMb(child.pid!);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid!))), 50);
    const started = performance.now();
    const posts = Promise.all(Array.from({ length: POSTS }, (_, i) => post(url, i % 2 === 0)));
    const healthStart = performance.now();
    const health = await fetch(`${url}/healthz`);
    const healthMs = performance.now() - healthStart;
    const statuses = await posts;
    clearInterval(sampler);
    const after = rssMb(child.pid!);
    const ms = performance.now() - started;
    console.log(
      `${which.padEnd(8)}  rss before ${before.toFixed(0)} MB, peak ${peak.toFixed(0)} MB (+${(peak - before).toFixed(0)}), after ${after.toFixed(0)} MB;` +
        ` answers ${[...new Set(statuses)].join('/')}; /healthz ${health.status} in ${healthMs.toFixed(0)} ms; ${(ms / 1000).toFixed(1)} s`,
    );
    return peak - before;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export async function benchSettlementInbox(): Promise<void> {
  console.log(`${POSTS} concurrent unsigned posts of ${MIB} MiB to /settlement/inbox`);
  const baseline = await measure('baseline');
  const farthing = await measure('farthing');
  console.log(
    `growth: farthing +${farthing.toFixed(0)} MB, baseline +${baseline.toFixed(0)} MB; target under +${TARGET_GROWTH_MB} MB: ${verdict(farthing < TARGET_GROWTH_MB)}`,
  );
}
