/**
 * A TCP proxy on 127.0.0.1 in front of a real server, for faults on the wire that the server itself
 * cannot make: hold an answer back, cut it after some body bytes, or rewrite its head. A rule picks
 * connections by their request head (one request per connection, as `Connection: close` clients
 * send); every other byte passes through unchanged, so signatures still verify upstream.
 */
import { connect, createServer, type Socket } from 'node:net';

/** What to do to the answers of the requests a rule matches. */
export interface ProxyRule {
  match: (requestHead: string) => boolean;
  /** Forward nothing of the answer until this settles. */
  hold?: Promise<unknown>;
  /** Forward the head and this many body bytes, then cut both connections. */
  cutAfter?: number;
  /** Replace the answer's head (without its final blank line). */
  rewriteHead?: (head: string) => string;
}

export interface TcpProxy {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** Request heads seen, in order. */
  requests: string[];
  rules: ProxyRule[];
  /** Client connections still open. */
  open(): number;
}

export async function startTcpProxy(
  t: { after(fn: () => unknown): void },
  target: string,
): Promise<TcpProxy> {
  const up = new URL(target);
  const requests: string[] = [];
  const rules: ProxyRule[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => {});
    let pending = Buffer.alloc(0);
    const onFirst = (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onFirst);
      client.pause();
      const head = pending.subarray(0, end).toString('latin1');
      requests.push(head);
      relay(
        client,
        pending,
        rules.find((r) => r.match(head)),
      );
    };
    client.on('data', onFirst);
  });
  const relay = (client: Socket, first: Buffer, rule: ProxyRule | undefined) => {
    const server = connect({ host: up.hostname, port: Number(up.port) });
    server.on('error', () => client.destroy());
    client.on('error', () => server.destroy());
    client.once('close', () => server.destroy());
    server.once('close', () => client.end());
    server.write(first);
    client.pipe(server);
    client.resume();
    if (!rule) {
      server.pipe(client);
      return;
    }
    server.pause();
    let head: Buffer | undefined = Buffer.alloc(0);
    let body = 0;
    server.on('data', (d: Buffer) => {
      let chunk = d;
      if (head !== undefined) {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        client.write(`${rule.rewriteHead ? rule.rewriteHead(text) : text}\r\n\r\n`, 'latin1');
        chunk = head.subarray(end + 4);
        head = undefined;
      }
      if (rule.cutAfter !== undefined && body + chunk.length >= rule.cutAfter) {
        client.write(chunk.subarray(0, rule.cutAfter - body), () => {
          client.destroy();
          server.destroy();
        });
        body = rule.cutAfter;
        server.pause();
        return;
      }
      body += chunk.length;
      client.write(chunk);
    });
    Promise.resolve(rule.hold).then(() => server.resume());
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const { port } = server.address() as { port: number };
  return { endpoint: `http://127.0.0.1:${port}`, requests, rules, open: () => sockets.size };
}
