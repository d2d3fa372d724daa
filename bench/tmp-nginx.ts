import { startStaticServer } from './lib/nginx.js';

const s = await startStaticServer('/tmp/rx/ng', '/tmp/rx/snap.bin', 'papers', 'snap.bin');
console.log(s.url, s.pid);
process.on('SIGTERM', async () => {
  await s.stop();
  process.exit(0);
});
setInterval(() => {}, 1000);
