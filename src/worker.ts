/**
 * A background loop of one process: runs `work` at once when woken (after a commit that gave it
 * something to do), else every `pollMs` (to find what other processes wrote), never two runs at
 * a time; `work` answers true when it may have left more to do. A failed run is logged and
 * retried at the next wake or poll. stop() waits for the run in progress.
 *
 * Workers are found by name and context, so a service can wake its worker without holding it.
 */
import type { Context } from './context.ts';

export interface Worker {
  stop(): Promise<void>;
}

/**
 * The ActivityPub adapter's relays (src/activitypub/outbox.ts, posts.ts), by name: a service that
 * wrote an outbox or posts row wakes them with wakeWorker, without importing the adapter.
 */
export const OUTBOX_RELAY = 'outbox relay';
export const POSTS_RELAY = 'posts relay';

const wakers = new WeakMap<Context, Map<string, () => void>>();

export function wakeWorker(ctx: Context, name: string): void {
  wakers.get(ctx)?.get(name)?.();
}

// biome-ignore lint/suspicious/noConfusingVoidType: a worker's run may answer nothing (void) or whether more work waits
export function startWorker(ctx: Context, name: string, pollMs: number, work: () => Promise<boolean | void>): Worker {
  let stopped = false;
  let pending = true;
  let wake: () => void = () => {};
  const byName = wakers.get(ctx) ?? new Map<string, () => void>();
  wakers.set(ctx, byName);
  byName.set(name, () => {
    pending = true;
    wake();
  });
  const loop = (async () => {
    while (!stopped) {
      if (pending) {
        pending = false;
        try {
          if ((await work()) === true) pending = true;
        } catch (error) {
          ctx.log.error({ err: error }, name);
        }
      }
      if (pending || stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          pending = true;
          resolve();
        }, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake();
      byName.delete(name);
      await loop;
    },
  };
}
