/**
 * The automatic close: shortly after a period ends (FARTHING_CLOSE_DELAY_MINUTES), every
 * process tries to close it; the close's own lock lets one do it and the others find it done.
 */
import type { Context } from '../context.ts';
import { periodEnd } from '../core/period.ts';
import { startWorker, type Worker } from '../worker.ts';
import { closePeriod, getClose, lastEndedPeriod } from './run.ts';

const CHECK_EVERY_MS = 60_000;

export function startAutoClose(ctx: Context): Worker {
  return startWorker(ctx, 'automatic close', CHECK_EVERY_MS, async () => {
    const period = lastEndedPeriod(ctx.clock.now());
    const due = periodEnd(period).getTime() + ctx.config.closeDelayMinutes * 60_000;
    if (ctx.clock.now().getTime() < due) return;
    const existing = await getClose(ctx, period);
    if (existing?.stage === 'done') return;
    ctx.log.info({ period }, 'automatic close');
    await closePeriod(ctx, period);
  });
}
