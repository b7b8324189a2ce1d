/**
 * The last resort of a shutdown: a worker thread that ends the whole process when the main
 * thread has not finished stopping by a deadline. A timer on the main thread cannot do it when
 * that thread is blocked (issue 14: it waited in a futex for 20 minutes and SIGTERM did nothing);
 * a worker's timer runs on its own thread. It writes what the shutdown was waiting for to stderr
 * (synchronously) and sends the process SIGKILL, the one signal no handler can delay.
 */
import { Worker } from 'node:worker_threads';

const WATCHDOG = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
let step = 'starting';
parentPort.on('message', (name) => { step = name; });
setTimeout(() => {
  try { writeSync(2, 'Farthing: shutdown did not finish in ' + workerData.ms + ' ms (the main thread is blocked); it was waiting for ' + step + '; killing the process\\n'); } catch {}
  process.kill(workerData.pid, 'SIGKILL');
}, workerData.ms);
`;

export interface ShutdownWatchdog {
  /** Tells the watchdog which step the shutdown is in, for its message. */
  step(name: string): void;
}

export function startShutdownWatchdog(ms: number): ShutdownWatchdog {
  const worker = new Worker(WATCHDOG, { eval: true, workerData: { ms, pid: process.pid } });
  worker.unref();
  return { step: (name) => worker.postMessage(name) };
}
