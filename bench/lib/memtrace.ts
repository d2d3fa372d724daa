/**
 * Optional memory trace for the transfer children (QNB_BENCH_MEMTRACE=1): samples
 * process.memoryUsage() every 50 ms and reports the peaks, to tell live buffers from garbage.
 */
export function startMemTrace(): () => Record<string, number> | undefined {
  if (process.env.QNB_BENCH_MEMTRACE !== '1') return () => undefined;
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  };
  const timer = setInterval(sample, 50);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    const mb = (x: number) => Math.round(x / 1024 / 102.4) / 10;
    return {
      peakRssMb: mb(peak.rss),
      peakHeapUsedMb: mb(peak.heapUsed),
      peakExternalMb: mb(peak.external),
      peakArrayBuffersMb: mb(peak.arrayBuffers),
    };
  };
}
