/**
 * One clock for the whole instance. Production reads the system time; development and tests may
 * start the clock at another instant (FARTHING_NOW) from which it keeps running.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that starts at `start` and runs on in real time. */
export function clockStartingAt(start: Date, real: Clock = systemClock): Clock {
  const offsetMs = start.getTime() - real.now().getTime();
  return { now: () => new Date(real.now().getTime() + offsetMs) };
}

/** A clock that only moves when told to; for tests. */
export class ManualClock implements Clock {
  #ms: number;
  constructor(start: Date | string) {
    this.#ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  set(instant: Date | string): void {
    this.#ms = new Date(instant).getTime();
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}
