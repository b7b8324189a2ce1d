/**
 * A child process for the crash test: runs the close of PERIOD against DATABASE_URL and kills
 * itself with SIGKILL (no cleanup, no rollback of committed stages) as stage DIE_AT commits.
 */

import { closePeriod } from '../../src/close/run.ts';
import { testConfig } from '../../src/config.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { Period } from '../../src/core/period.ts';
import { createInstance } from '../../src/instance.ts';

const { DATABASE_URL, PERIOD, DIE_AT, NOW } = process.env;
const instance = await createInstance(testConfig({ DATABASE_URL: DATABASE_URL as string, FARTHING_ORIGIN: 'https://a.example' }), {
  clock: new ManualClock(NOW as string),
});
await closePeriod(instance.ctx, PERIOD as Period, {
  onStage: (_period, stage) => {
    if (stage === DIE_AT) process.kill(process.pid, 'SIGKILL');
  },
});
console.error('the close finished without reaching the stage it should die at');
process.exit(3);
