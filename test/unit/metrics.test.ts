import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { countPlacement, metrics, setMetricsRole } from '../../src/adapters/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../../src/adapters/metrics-server.ts';

describe('metrics', () => {
  let server: MetricsServer | undefined;
  afterAll(async () => server?.close());

  it('given a role and some increments, when /metrics is scraped, then every named series carries the role label', async () => {
    setMetricsRole('unit-test', 'i1');
    countPlacement({ ok: true, duplicate: false });
    countPlacement({ ok: false, code: 'cooldown' });
    metrics.appendLatency.observe({ result: 'ok' }, 0.002);
    metrics.projectionLag.set({ projection: 'bitmap' }, 7);
    metrics.batchSize.observe({ stage: 'bitmap' }, 100);
    metrics.wsConnections.inc();
    metrics.framesSent.inc({ kind: 'pixels' });
    metrics.framesDropped.inc({ reason: 'backpressure' });
    metrics.resyncs.inc({ reason: 'gap' });
    metrics.cooldownsUnacked.inc(2);
    metrics.snapshotAge.set(12);
    server = await startMetricsServer(
      0,
      pino({ level: 'silent' }),
      async () => ({ ok: true, checks: { nats: 'ok' } }),
      '127.0.0.1',
    );
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('rplace_placements_accepted_total{duplicate="false",role="unit-test",instance="i1"} 1');
    expect(text).toContain('rplace_placements_rejected_total{reason="cooldown",role="unit-test",instance="i1"} 1');
    expect(text).toContain('rplace_projection_lag_events{projection="bitmap",role="unit-test",instance="i1"} 7');
    for (const name of [
      'rplace_append_latency_seconds_bucket',
      'rplace_batch_size_events_count',
      'rplace_ws_connections',
      'rplace_ws_frames_sent_total',
      'rplace_ws_frames_dropped_total',
      'rplace_resyncs_total',
      'rplace_cooldowns_unacked_total',
      'rplace_snapshot_age_seconds',
      'rplace_process_',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('serves /healthz from the check, 503 when unhealthy, 404 elsewhere', async () => {
    const unhealthy = await startMetricsServer(
      0,
      pino({ level: 'silent' }),
      async () => ({ ok: false, checks: { redis: 'down' } }),
      '127.0.0.1',
    );
    try {
      const res = await fetch(`http://127.0.0.1:${unhealthy.port}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unhealthy', checks: { redis: 'down' } });
      expect((await fetch(`http://127.0.0.1:${unhealthy.port}/nope`)).status).toBe(404);
    } finally {
      await unhealthy.close();
    }
    const ok = await fetch(`http://127.0.0.1:${server!.port}/healthz`);
    expect(ok.status).toBe(200);
  });
});
