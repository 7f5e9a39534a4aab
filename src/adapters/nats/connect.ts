/**
 * Connecting to NATS: one place that turns "nothing listening" into a `ServiceUnreachable` with a hint,
 * and that sets the reconnect policy every role uses (reconnect forever; the roles ride out NATS restarts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ServiceUnreachable } from '../../app/errors.ts';

export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: url.split(',').map((s) => s.trim()),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 5_000,
    });
  } catch (cause) {
    throw new ServiceUnreachable(`cannot reach NATS at ${url}: ${(cause as Error).message}`, { cause });
  }
}
