/**
 * A TCP forwarder in the test process: listens on `host:port` and pipes every connection to a target.
 * The partition faults use it to give the machine's Redis and Postgres (127.0.0.1 only) an address on the
 * namespaces' bridge; the Redis failover fault uses it as the "virtual IP" that `retarget()` moves from the
 * killed primary to the promoted replica (what Sentinel or a cloud failover does for a client that only
 * knows one address). `retarget` also cuts every open connection, as the real failover does.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpForward {
  readonly url: (scheme: string, path?: string) => string;
  retarget(port: number, host?: string): void;
  /** Connections cut so far by `retarget`. */
  readonly cut: number;
  close(): Promise<void>;
}

export async function startTcpForward(
  host: string,
  port: number,
  target: { port: number; host?: string },
): Promise<TcpForward> {
  let to = { host: target.host ?? '127.0.0.1', port: target.port };
  const open = new Set<Socket>();
  let cut = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection(to);
    open.add(client);
    open.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    url: (scheme, path = '') => `${scheme}://${host}:${port}${path}`,
    retarget(newPort, newHost = '127.0.0.1') {
      to = { host: newHost, port: newPort };
      cut += open.size / 2;
      for (const socket of [...open]) socket.destroy();
      open.clear();
    },
    get cut() {
      return cut;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
