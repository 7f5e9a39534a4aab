/**
 * The one way a test finds a TCP port for a private server (an edge, a private nats-server, Redis or
 * Postgres): ask the OS for an ephemeral port on 127.0.0.1 and release it. Another process could take it
 * before the caller binds it; the window is a few milliseconds, and the OS hands out ephemeral ports in
 * rotation, so two callers in a row never get the same one.
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('the OS gave no port'))));
    });
  });
}
