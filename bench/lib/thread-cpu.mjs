/**
 * CPU seconds (user, sys) of each thread of this process, sampled every 50 ms while it runs (a
 * thread's figures vanish from /proc when it ends): the main thread, the busiest other threads
 * (the ring's or the sealer's workers) and the rest (libuv's I/O pool, V8) — what limits a step.
 * Plain JavaScript: used by s3-steps.mjs (plain Node) and qnb-download.ts (tsx).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** @typedef {[number, number]} UserSys  CPU seconds, user and sys */

export function threadSampler() {
  /** @type {Map<string, UserSys>} */
  const last = new Map();
  /** @type {Map<string, UserSys>} */
  const start = new Map();
  const read = (into) => {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        into.set(tid, [Number(f[11]) / 100, Number(f[12]) / 100]);
      } catch {}
    }
  };
  read(start);
  const sample = () => read(last);
  const timer = setInterval(sample, 50);
  timer.unref();
  return {
    sample,
    /**
     * Stops sampling. `main`: the main thread; `busiest`: the `workers` busiest other threads,
     * busiest first; `rest`: the sum of the others — each CPU seconds since the sampler started.
     */
    stop(workers = 1) {
      clearInterval(timer);
      sample();
      const since = (tid, v) => {
        const s = start.get(tid) ?? [0, 0];
        return [v[0] - s[0], v[1] - s[1]];
      };
      const pid = String(process.pid);
      const main = since(pid, last.get(pid) ?? [0, 0]);
      const others = [...last]
        .filter(([tid]) => tid !== pid)
        .map(([tid, v]) => since(tid, v))
        .sort((a, b) => b[0] + b[1] - a[0] - a[1]);
      const busiest = others.slice(0, workers);
      const tail = others.slice(workers);
      const rest = [tail.reduce((a, x) => a + x[0], 0), tail.reduce((a, x) => a + x[1], 0)];
      return { main, busiest, rest };
    },
    /** Stops sampling and prints the `threads: …` line s3-copy.ts reads from stderr. */
    report() {
      const { main, busiest, rest } = this.stop(1);
      const fmt = ([u, s]) => `${(u + s).toFixed(2)} s (user ${u.toFixed(2)}, sys ${s.toFixed(2)})`;
      process.stderr.write(
        `threads: main ${fmt(main)}; busiest other (worker) ${fmt(busiest[0] ?? [0, 0])}; other threads (I/O pool, V8) ${fmt(rest)}\n`,
      );
    },
  };
}
