/** Small measuring tools shared by the benchmarks. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Samples this process's resident memory while `work` runs; answers the peak in MB. */
export async function withPeakMemory<T>(work: () => Promise<T>): Promise<{ result: T; peakMb: number; ms: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const start = performance.now();
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakMb: peak / 1024 / 1024, ms: performance.now() - start };
  } finally {
    clearInterval(timer);
  }
}

export function verdict(ok: boolean): string {
  return ok ? 'meets target' : 'MISSES target';
}
