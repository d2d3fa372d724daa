/**
 * Run the Qdrant test server standalone:
 *   node --import tsx test/servers/qdrant/main.ts --port 6333 [--host H] [--api-key K]
 *        [--read-only-api-key R] [--data-dir D] [--version V] [--peer-id N]
 * Prints `listening on http://127.0.0.1:PORT`; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startQdrantTestServer } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '6333' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    'read-only-api-key': { type: 'string' },
    'data-dir': { type: 'string' },
    version: { type: 'string' },
    'peer-id': { type: 'string' },
  },
});

const server = await startQdrantTestServer({
  port: Number(values.port),
  host: values.host,
  apiKey: values['api-key'],
  readOnlyApiKey: values['read-only-api-key'],
  dataDir: values['data-dir'],
  version: values.version,
  peerId: values['peer-id'] === undefined ? undefined : Number(values['peer-id']),
});
console.log(`listening on ${server.url}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    server.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  });
}
