import { describe, expect, it } from 'vitest';
import {
  databaseOf,
  endpointOf,
  installHint,
  isDefaultLoopback,
  newestPostgresVersion,
  parseNatsInfo,
} from '../../src/adapters/services/endpoints.ts';

describe('service endpoints', () => {
  it('reads host and port, with each service default port when the URL has none', () => {
    expect(endpointOf('nats', 'nats://127.0.0.1:4222')).toEqual({ host: '127.0.0.1', port: 4222 });
    expect(endpointOf('nats', 'nats://a:1,nats://b:2')).toEqual({ host: 'a', port: 1 });
    expect(endpointOf('redis', 'redis://localhost')).toEqual({ host: 'localhost', port: 6379 });
    expect(endpointOf('postgres', 'postgres://postgres@[::1]/test')).toEqual({ host: '::1', port: 5432 });
    expect(endpointOf('redis', 'not a url')).toBeNull();
  });

  it('starts a local service only for the default loopback port', () => {
    expect(isDefaultLoopback('nats', 'nats://127.0.0.1:4222')).toBe(true);
    expect(isDefaultLoopback('redis', 'redis://localhost')).toBe(true);
    expect(isDefaultLoopback('postgres', 'postgres://postgres@127.0.0.1:5433/test')).toBe(false);
    expect(isDefaultLoopback('nats', 'nats://nats.prod.internal:4222')).toBe(false);
  });

  it('reads the database name', () => {
    expect(databaseOf('postgres://postgres@127.0.0.1:5432/test')).toBe('test');
    expect(databaseOf('postgres://postgres@127.0.0.1:5432')).toBe('postgres');
  });

  it('picks the newest Postgres version directory', () => {
    expect(newestPostgresVersion(['13', '15', '9.6', 'README'])).toBe('15');
    expect(newestPostgresVersion([])).toBeNull();
  });

  it('parses the NATS INFO greeting and its JetStream flag', () => {
    expect(parseNatsInfo('INFO {"version":"2.9.10","jetstream":true} \r\n')).toEqual({
      version: '2.9.10',
      jetstream: true,
    });
    expect(parseNatsInfo('INFO {"version":"2.9.10"}')).toEqual({ version: '2.9.10', jetstream: false });
    expect(parseNatsInfo('+PONG')).toBeNull();
    expect(parseNatsInfo('INFO {broken')).toBeNull();
  });

  it('names the apt package to install', () => {
    expect(installHint('nats')).toContain('apt-get install nats-server');
    expect(installHint('redis')).toContain('apt-get install redis-server');
    expect(installHint('postgres')).toContain('apt-get install postgresql');
  });
});

describe('where npm start may start a local service', () => {
  it('on the URL port when the URL is loopback, never for a remote host', async () => {
    const { localPortOf } = await import('../../src/adapters/services/endpoints.ts');
    expect(localPortOf('redis', 'redis://127.0.0.1')).toBe(6379);
    expect(localPortOf('postgres', 'postgres://postgres@localhost:5433/x')).toBe(5433);
    expect(localPortOf('nats', 'nats://nats.prod:4222')).toBeNull();
  });
});
