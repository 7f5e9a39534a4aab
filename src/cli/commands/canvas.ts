/**
 * `rplace canvas size` and `rplace canvas resize --width W --height H [--x X --y Y]`: the canvas size in force at
 * the end of the log, and growing it mid-event (r/place 2022: 1000² → 2000×1000 → 2000²). The resize is one
 * `CanvasResized` event appended as the operator identity (the only one NATS lets publish to
 * `rplace.<canvas>.ops.resize`: streams/permissions.ts); the bitmap, the history, every edge and every connected
 * client follow it at its sequence. `--x`/`--y` say where the old canvas's (0, 0) lands (default 0, 0: the canvas
 * grows to the right and down, and every coordinate keeps its pixel).
 *
 * A refused resize (shrinking, unchanged, the old area not fitting, a side past 8192) prints
 * `rplace canvas resize: <code>: <message>` and exits 2 (src/exit-codes.ts: a bad argument).
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { createNatsResizeLog } from '../../adapters/nats/resize-log.ts';
import { systemClock } from '../../adapters/system-clock.ts';
import { currentSize, resizeCanvas } from '../../app/resize-canvas.ts';
import { canvasSpecOf, commonSchema, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../domain/names.ts';
import { UsageError } from '../../exit-codes.ts';
import { openNats, withLifecycle } from '../../roles/lifecycle.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';
import { cliAction, cliLogger } from '../action.ts';
import { confirm } from '../guard.ts';

/** A resize the rule refuses: exit 2 with the rule's code first on the line. */
export class ResizeRefused extends UsageError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

function side(label: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
      throw new UsageError(`${label} must be a whole number, got ${value}`);
    return n;
  };
}

export function registerCanvas(program: Command): void {
  const canvas =
    program.commands.find((c) => c.name() === 'canvas') ?? program.command('canvas').description('the canvas itself');

  async function withStream<T>(
    name: string,
    run: (deps: {
      nc: Awaited<ReturnType<typeof openNats>>;
      names: ReturnType<typeof namesFor>;
      stream: ReturnType<typeof createNatsEventStream>;
    }) => Promise<T>,
  ): Promise<void> {
    const config = loadConfig(commonSchema);
    const names = namesFor(config.CANVAS_ID);
    const logger = cliLogger();
    await withLifecycle(logger, async (life) => {
      const nc = await openNats(
        life,
        config.NATS_URL,
        `rplace-cli-${name}-${names.canvasId}`,
        natsAuthOf(config, natsInboxPrefix('operator', names)),
      );
      const stream = createNatsEventStream(nc, names, {
        canvas: eventBoundsOf(canvasSpecOf(config)),
        reader: 'cli',
        logger,
      });
      await run({ nc, names, stream });
    });
  }

  canvas
    .command('size')
    .description('print the canvas size in force at the end of the stream (the initial one, or the last resize)')
    .action(
      cliAction('canvas size', async () => {
        await withStream('size', async ({ stream }) => {
          const last = await stream.lastSeq();
          const { size, lastResize } = await stream.sizeAt(last);
          process.stdout.write(
            `${size.width}x${size.height} at sequence ${last}` +
              (lastResize ? ` (resized at sequence ${lastResize.seq})\n` : ' (the initial size)\n'),
          );
        });
      }),
    );

  canvas
    .command('resize')
    .description('grow the canvas from the next sequence on (never shrinks); every projection and client follows it')
    .requiredOption('--width <pixels>', 'new width', side('--width'))
    .requiredOption('--height <pixels>', 'new height', side('--height'))
    .option('--x <pixels>', 'where the old canvas’s left edge lands in the new one', side('--x'), 0)
    .option('--y <pixels>', 'where the old canvas’s top edge lands in the new one', side('--y'), 0)
    .option('--id <id>', 'resize id (the message id: retrying with the same id stores it once)')
    .option('--yes', 'do not ask for confirmation')
    .action(
      cliAction(
        'canvas resize',
        async (opts: { width: number; height: number; x: number; y: number; id?: string; yes?: boolean }) => {
          await withStream('resize', async ({ nc, names, stream }) => {
            const before = await currentSize(stream);
            const target = `${opts.width}x${opts.height} (old area at ${opts.x},${opts.y})`;
            if (
              !(await confirm(
                `grow ${names.canvasId} from ${before.width}x${before.height} to ${target}?`,
                opts.yes === true,
              ))
            ) {
              process.stdout.write('nothing changed\n');
              return;
            }
            const outcome = await resizeCanvas(
              { stream, log: createNatsResizeLog(nc, names), clock: systemClock },
              {
                width: opts.width,
                height: opts.height,
                originX: opts.x,
                originY: opts.y,
                operator: 'operator',
                requestId: opts.id ?? `resize-${randomUUID()}`,
              },
            );
            if (outcome.kind === 'refused') throw new ResizeRefused(outcome.code, outcome.message);
            process.stdout.write(
              `canvas ${names.canvasId} resized ${outcome.from.width}x${outcome.from.height} -> ${outcome.to.width}x${outcome.to.height} at sequence ${outcome.seq}${outcome.duplicate ? ' (already stored with this id)' : ''}\n`,
            );
          });
        },
      ),
    );
}
