import { execFile } from 'node:child_process';
import { connectTestServices, releaseTestServices } from '../helpers/test-services.ts';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { appendPixels, randomPixels } from '../helpers/append-events.ts';
import { testEnv, testNames } from '../helpers/isolation.ts';

const run = promisify(execFile);
const names = testNames('clibitmap');
const spec = { width: 64, height: 48 };
const env = {
  ...process.env,
  ...testEnv(names, { CANVAS_WIDTH: String(spec.width), CANVAS_HEIGHT: String(spec.height) }),
};
let nc: NatsConnection;
let redis: Redis;

/** Runs `rplace <args>` and returns its exit code and output, whatever the code. */
async function rplace(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...env, ...extraEnv },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  ({ nc, redis } = await connectTestServices('test-cli-bitmap'));
});

afterAll(() => releaseTestServices({ nc, redis }, names));

describe('rplace streams apply / rebuild bitmap / status', () => {
  it('applies the stream idempotently, rebuilds the bitmap from it, and reports positions and lag', async () => {
    const created = await rplace(['streams', 'apply']);
    expect(created.stdout).toMatch(new RegExp(`stream ${names.stream} .*: created`));
    expect((await rplace(['streams', 'apply'])).stdout).toMatch(/: unchanged/);

    const pixels = randomPixels(700, spec.width, spec.height, 32, 5);
    const last = await appendPixels(nc, names, pixels);
    const rebuilt = await rplace(['rebuild', 'bitmap', '--yes']);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(new RegExp(`rebuilt through sequence ${last}: ${last} events`));
    const stored = (await createRedisBitmapStore(redis, names, spec).load())!;
    expect(stored.seq).toBe(last);
    expect(Buffer.from(stored.canvas).equals(Buffer.from(replay(createCanvas(spec), spec.width, pixels)))).toBe(true);
    expect(await createNatsEventStream(nc, names, { canvas: { ...spec, colors: 32 } }).lastSeq()).toBe(last);
    // It says which path and which reader it took: the socket bytes by default (src/cli/rebuild-read.ts).
    expect(rebuilt.stdout).toMatch(new RegExp(`\\nfull replay: .*; ${last} events through seq ${last}\\n`));
    expect(rebuilt.stdout).toContain('read from the socket bytes (fast path, the default; --no-fast-delivery');
    // nats.js's reader on request, the same bytes.
    await redis.del(names.canvasKey);
    const viaNats = await rplace(['rebuild', 'bitmap', '--yes', '--full', '--no-fast-delivery']);
    expect(viaNats.code).toBe(0);
    expect(viaNats.stdout).toMatch(
      new RegExp(`\\nfull replay: asked for \\(--full\\); ${last} events through seq ${last}\\n`),
    );
    expect(viaNats.stdout).toContain("read through nats.js's parser and Msg (--no-fast-delivery)");
    const again = (await createRedisBitmapStore(redis, names, spec).load())!;
    expect([again.seq, Buffer.from(again.canvas).equals(Buffer.from(stored.canvas))]).toEqual([last, true]);

    await appendPixels(nc, names, randomPixels(30, spec.width, spec.height, 32, 6));
    const status = await rplace(['status', '--json']);
    const parsed = JSON.parse(status.stdout) as {
      stream: { lastSeq: number; messages: number };
      projections: { name: string; seq: number; lag: number }[];
    };
    expect(parsed.stream.lastSeq).toBe(last + 30);
    expect(parsed.stream.messages).toBe(last + 30);
    expect(parsed.projections.find((p) => p.name === 'bitmap')).toMatchObject({ seq: last, lag: 30 });
    const text = await rplace(['status']);
    expect(text.stdout).toContain(`last sequence ${last + 30}`);
    expect(text.stdout).toMatch(new RegExp(`bitmap +seq ${last}, lag 30`));
  }, 120_000);

  it('prints one line, no stack trace, and a non-zero code on errors', async () => {
    const badConfig = await rplace(['rebuild', 'bitmap'], { CANVAS_WIDTH: 'wide' });
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/^rplace rebuild bitmap: invalid configuration:\n {2}CANVAS_WIDTH="wide": /);
    expect(badConfig.stderr).not.toMatch(/\n\s+at /);
    const down = await rplace(['streams', 'apply'], { NATS_URL: 'nats://127.0.0.1:1' });
    expect(down.code).toBe(3);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^rplace streams apply: cannot reach NATS/);
  }, 60_000);
});
