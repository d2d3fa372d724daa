// scratch experiment (not committed): curl -o vs qnb download variants from nginx, idle and with a hog
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startStaticServer } from './lib/nginx.js';
const MB = Number(process.env.MB ?? 512);
const REPS = Number(process.env.REPS ?? 5);
const dir = '/tmp/exp';
const src = `${dir}/src.snapshot`;
if (!existsSync(src)) execFileSync('head', ['-c', String(MB << 20), '/dev/urandom'], { stdio: ['ignore', openSync(src, 'w'), 'inherit'] });
rmSync(`${dir}/ng`, { recursive: true, force: true });
const ng = await startStaticServer(`${dir}/ng`, src, 'papers', 'x.snapshot');
const out = `${dir}/out.snapshot`;
const cpuLog: Record<string, number[]> = {};
const contenders: Record<string, () => number> = {
  curl: () => {
    rmSync(out, { force: true });
    const t = execFileSync('curl', ['-s', '-o', out, '-w', '%{time_total}', `${ng.url}/collections/papers/snapshots/x.snapshot`]).toString();
    return Number(t) * 1000;
  },
};
for (const [name, root] of Object.entries(JSON.parse(process.env.TREES ?? '{"main":"/work/main","new":"/work/wt/dl3t"}')))
  contenders[name] = () => {
    rmSync(out, { force: true });
    const o = execFileSync('node', ['--import', 'tsx', `${root}/bench/qnb-download.ts`, ng.url, 'papers', 'x.snapshot', out], { env: { ...process.env, QNB_BENCH_SIZE: String(MB << 20) } }).toString();
    const j = JSON.parse(o.trim().split('\n').pop()!);
    (cpuLog[name] ??= []).push(j.cpuMs);
    return j.ms;
  };
async function round(label: string) {
  const res: Record<string, number[]> = {};
  for (let r = 0; r < REPS; r++) {
    const names = Object.keys(contenders);
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    for (const n of order) (res[n] ??= []).push(contenders[n]!());
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const curl = res.curl!;
  for (const [n, v] of Object.entries(res)) {
    const ratios = v.map((x, i) => curl[i]! / x);
    console.log(label, n, 'median ms', med(v).toFixed(0), 'runs', v.map((x) => x.toFixed(0)).join(','), 'paired vs curl', med(ratios).toFixed(2));
  }
}
try {
  for (const c of Object.values(contenders)) c();
  if (process.env.IDLE !== '0') await round('idle');
  const hog = spawn('node', ['-e', 'const e=Date.now()+300000; while(Date.now()<e){}'], { stdio: 'ignore' });
  try { await round('hog'); } finally { hog.kill(); }
  for (const [n, v] of Object.entries(cpuLog)) console.log('cpu', n, v.map((x) => x.toFixed(0)).join(','));
  console.log('load', loadavg().map((x: number) => x.toFixed(2)).join(' '));
} finally { await ng.stop(); }
