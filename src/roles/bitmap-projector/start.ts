/**
 * The bitmap projector role: applies the canvas stream to the live Redis bitmap (see app/project-bitmap.ts).
 * Composable: no process-wide state; everything it opens is closed by the returned shutdown (../lifecycle.ts).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { createNatsProjectionSource } from '../../adapters/nats/projection-source.ts';
import { answerStatusRequests } from '../../adapters/nats/status-responder.ts';
import { metrics } from '../../adapters/metrics.ts';
import { createRedisBitmapStore } from '../../adapters/redis/bitmap-store.ts';
import { connectPg } from '../../adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { runBitmapProjection } from '../../app/project-bitmap.ts';
import { canvasSpecOf, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import type { BitmapProjectorConfig } from '../../config/bitmap-projector.ts';
import { namesFor } from '../../domain/names.ts';
import { ensureStream } from '../../../streams/apply.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';
import { openNats, openRedis, startWith, type SharedConnections } from '../lifecycle.ts';
import type { Shutdown } from '../run-role.ts';

export function startBitmapProjector(
  config: BitmapProjectorConfig,
  logger: Logger,
  shared: SharedConnections = {},
): Promise<Shutdown> {
  const log = logger.child({ component: 'bitmap-projector' });
  const names = namesFor(config.CANVAS_ID);
  const spec = canvasSpecOf(config);
  return startWith(log, async (life) => {
    const nc =
      shared.nc ??
      (await openNats(
        life,
        config.NATS_URL,
        `rplace-bitmap-projector-${names.canvasId}`,
        natsAuthOf(config, natsInboxPrefix('bitmap-projector', names)),
        log,
      ));
    const redis = await openRedis(life, config.REDIS_URL, `rplace-bitmap-projector-${names.canvasId}`);
    const { outcome } = await ensureStream(nc, names, { replicas: config.STREAM_REPLICAS });
    if (outcome !== 'unchanged') log.info({ stream: names.stream, outcome }, 'stream definition applied');
    answerStatusRequests(nc, names.canvasId, 'bitmap-projector', log); // `rplace status`; ends with the connection's drain

    const controller = new AbortController();
    const stream = createNatsEventStream(nc, names, {
      canvas: eventBoundsOf(spec),
      reader: 'bitmap-rebuild',
      logger: log,
    });
    const store = createRedisBitmapStore(redis, names, spec);
    // History snapshots make a self-rebuild (Redis wiped) start from the newest verified one + the tail
    // (app/recover-canvas.ts). Optional: without Postgres the projector still runs and rebuilds from seq 1.
    let snapshots: ReturnType<typeof createPgHistoryStore> | undefined;
    try {
      const pg = await connectPg(config.DATABASE_URL, names.pgSchema, log, { max: 1 });
      life.defer({ name: 'postgres (snapshots)', close: () => pg.close() });
      snapshots = createPgHistoryStore(pg, log);
    } catch (error) {
      log.warn(
        { err: (error as Error).message },
        'no history snapshots (Postgres unreachable): a rebuild will replay the whole stream',
      );
    }
    const deps = {
      store,
      ...(snapshots ? { snapshots } : {}),
      source:
        shared.projections?.source({ maxBatch: config.BITMAP_MAX_BATCH }) ??
        createNatsProjectionSource(nc, names, names.consumers.bitmap, log, {
          canvas: eventBoundsOf(spec),
          maxBatch: config.BITMAP_MAX_BATCH,
        }),
      stream,
      spec,
      log,
      wipeCheckMs: config.BITMAP_WIPE_CHECK_MS,
      onApplied: (seq: number, events: number) => {
        metrics.projectionSeq.set({ projection: 'bitmap' }, seq);
        metrics.batchSize.observe({ stage: 'bitmap' }, events);
      },
    };
    // Lag in events (stream last sequence − stored sequence), sampled every 2 s, one sample in flight at most.
    let sampling = false;
    const lagTimer = setInterval(() => {
      if (sampling) return;
      sampling = true;
      Promise.all([stream.lastSeq(), store.seq()])
        .then(([last, seq]) => metrics.projectionLag.set({ projection: 'bitmap' }, Math.max(0, last - (seq ?? 0))))
        .catch(() => undefined)
        .finally(() => (sampling = false));
    }, 2000);
    lagTimer.unref();
    // The projection only returns early on a failure outside a batch (e.g. Redis down during the start-up
    // rebuild): start it again after a pause rather than leave a process that projects nothing.
    const running = (async () => {
      while (!controller.signal.aborted) {
        try {
          await runBitmapProjection(deps, controller.signal);
        } catch (error) {
          if (controller.signal.aborted) break;
          log.error({ err: error }, 'bitmap projection failed; restarting it in 2 s');
          await delay(2000, undefined, { signal: controller.signal }).catch(() => undefined);
        }
      }
    })();
    life.defer({
      name: 'bitmap projection',
      close: async () => {
        clearInterval(lagTimer);
        controller.abort();
        await running;
      },
    });
    log.info({ canvas: names.canvasId, key: names.canvasKey }, 'bitmap projector running');
  });
}
