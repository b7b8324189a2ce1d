/**
 * The subscription scheduler: every minute, in every server process, makes the subscribed
 * flattrs of the current period (runSubscriptions is idempotent, so processes may race).
 *
 * It waits until the previous period is closed: that close charges the wallet, so the check that
 * the wallet covers the budget sees what is really left. With FARTHING_AUTO_CLOSE that is a few
 * minutes after the period begins; otherwise when the admin closes the month.
 */

import { firstPeriod, getClose } from '../close/run.ts';
import type { Context } from '../context.ts';
import { addMonths, periodOf } from '../core/period.ts';
import { startWorker, type Worker } from '../worker.ts';
import { runSubscriptions } from './runner.ts';

const CHECK_EVERY_MS = 60_000;

/** Whether this period's subscribed flattrs may be made now (the previous period is closed). */
export async function subscriptionsDue(ctx: Context): Promise<boolean> {
  const previous = addMonths(periodOf(ctx.clock.now()), -1);
  if (previous < (await firstPeriod(ctx))) return true;
  return (await getClose(ctx, previous))?.stage === 'done';
}

export function startSubscriptionScheduler(ctx: Context): Worker {
  return startWorker(ctx, 'subscriptions', CHECK_EVERY_MS, async () => {
    if (await subscriptionsDue(ctx)) await runSubscriptions(ctx);
  });
}
