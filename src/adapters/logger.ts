/**
 * One pino root logger per process, bound to its role and instance; adapters take children.
 * No log line per pixel: the stream is the audit log; per-pixel signals are metrics.
 */
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(role: string, level: string): Logger {
  return pino({ level, base: { role, instance: `${hostname()}:${process.pid}` } });
}
