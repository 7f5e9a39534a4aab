/**
 * The history role: migrates the canvas's schema, then runs the history projector (stream → Postgres rows,
 * in-memory canvas) and its snapshotter (a timer asking the projector for a snapshot every
 * SNAPSHOT_INTERVAL_MS). Composable: no process-wide state; the returned shutdown closes everything (../lifecycle.ts).
 */
import type { Logger } from 'pino';
import { metrics } from '../../adapters/metrics.ts';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { createNatsProjectionSource } from '../../adapters/nats/projection-source.ts';
import { answerStatusRequests } from '../../adapters/nats/status-responder.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { createHistoryProjector, type ProjectorObserver } from '../../app/history/projector.ts';
import { systemClock } from '../../adapters/system-clock.ts';
import { canvasSpecOf, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import { historyProjectorSettings, historyWriteSettings, type HistoryConfig } from '../../config/history.ts';
import { namesFor } from '../../domain/names.ts';
import { ensureStream } from '../../../streams/apply.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';
import { openNats, openPg, startWith, type SharedConnections } from '../lifecycle.ts';
import type { Shutdown } from '../run-role.ts';

const LAG_POLL_MS = 2_000;

export function startHistory(config: HistoryConfig, logger: Logger, shared: SharedConnections = {}): Promise<Shutdown> {
  const log = logger.child({ component: 'history' });
  const names = namesFor(config.CANVAS_ID);
  return startWith(log, async (life) => {
    const pg = await openPg(life, config.DATABASE_URL, names.pgSchema, log, { max: config.PG_POOL_SIZE });
    const { applied } = await migrateToLatest(pg.pool, names.pgSchema);
    if (applied.length > 0) log.info({ schema: names.pgSchema, applied }, 'migrations applied');
    const nc =
      shared.nc ??
      (await openNats(
        life,
        config.NATS_URL,
        `rplace-history-${names.canvasId}`,
        natsAuthOf(config, natsInboxPrefix('history', names)),
        log,
      ));
    await ensureStream(nc, names);
    answerStatusRequests(nc, names.canvasId, 'history', log); // `rplace status`; ends with the connection's drain

    const store = createPgHistoryStore(pg, log, historyWriteSettings(config));
    const stream = createNatsEventStream(nc, names, {
      canvas: eventBoundsOf(canvasSpecOf(config)),
      reader: 'history-tail',
      logger: log,
    });
    let outageStartedAt = 0;
    let lastSnapshotAt = Date.now();
    let caughtUpAfterOutage = true;
    const observer: ProjectorObserver = {
      committed({ seq, events }) {
        metrics.projectionSeq.set({ projection: 'history' }, seq);
        if (events > 0) metrics.batchSize.observe({ stage: 'history' }, events);
      },
      snapshot({ seq }) {
        lastSnapshotAt = Date.now();
        metrics.snapshotSeq.set(seq);
        metrics.snapshotAge.set(0);
      },
      storeDown({ error, heldFromSeq }) {
        outageStartedAt = Date.now();
        caughtUpAfterOutage = false;
        metrics.historyStoreUp.set(0);
        log.warn(
          { err: error.message, heldFromSeq },
          'postgres unavailable: holding the batch unacknowledged and retrying; nothing is lost, history will catch up from the stream',
        );
      },
      storeBack({ downMs, attempts, seq }) {
        metrics.historyStoreUp.set(1);
        metrics.historyStoreOutages.inc();
        log.warn({ downMs, attempts, seq }, 'postgres is back: held batch written, catching up from the stream');
      },
      reloaded({ seq, snapshotSeq, replayed, reason }) {
        log.info({ seq, snapshotSeq, replayed, reason }, 'history projector state loaded from postgres');
      },
      error({ error, what }) {
        log.error({ err: error }, what);
      },
      halted({ error }) {
        metrics.projectionHalted.set({ projection: 'history' }, 1);
        log.fatal(
          { err: error, seq: error.seq },
          'history projector HALTED on a permanent failure: it will not retry; /healthz and /readyz answer 503 until an operator fixes the cause and restarts the role',
        );
      },
    };
    metrics.historyStoreUp.set(1);
    metrics.projectionHalted.set({ projection: 'history' }, 0);
    const projector = createHistoryProjector({
      store,
      source:
        shared.projections?.source({ maxBatch: config.HISTORY_MAX_BATCH }) ??
        createNatsProjectionSource(nc, names, names.consumers.history, log, {
          canvas: eventBoundsOf(canvasSpecOf(config)),
          maxBatch: config.HISTORY_MAX_BATCH,
        }),
      clock: systemClock,
      ...historyProjectorSettings(config, names),
      observer,
    });

    const controller = new AbortController();
    const running = projector.run(controller.signal).catch((error: unknown) => {
      if (!controller.signal.aborted) log.error({ err: error }, 'history projector stopped');
    });
    const snapshotTimer = setInterval(
      () => {
        projector.snapshotIfDue().then(
          () => undefined,
          (error: unknown) => log.error({ err: error }, 'snapshot failed'),
        );
      },
      Math.max(50, Math.floor(config.SNAPSHOT_INTERVAL_MS / 4)),
    );
    const lagTimer = setInterval(() => {
      stream.lastSeq().then(
        (last) => {
          const lag = Math.max(0, last - projector.seq);
          metrics.projectionLag.set({ projection: 'history' }, lag);
          metrics.snapshotAge.set((Date.now() - lastSnapshotAt) / 1000);
          if (!caughtUpAfterOutage && lag === 0) {
            caughtUpAfterOutage = true;
            log.info(
              { seq: projector.seq, outageMs: Date.now() - outageStartedAt },
              'history caught up with the stream after the postgres outage',
            );
          }
        },
        () => undefined,
      );
    }, LAG_POLL_MS);
    life.defer({
      name: 'history projector',
      close: async () => {
        clearInterval(snapshotTimer);
        clearInterval(lagTimer);
        controller.abort();
        await running;
      },
    });
    log.info(
      { canvas: names.canvasId, schema: names.pgSchema, snapshotIntervalMs: config.SNAPSHOT_INTERVAL_MS },
      'history projector running',
    );
  });
}
