/**
 * The players benchmark's C placers and viewers (bench/_players-epoll.c) behind a small interface: started with
 * the load's shape, asked for their warm-up status, measured, reported (delivery timed in C too). Each accepted
 * placement's sequence and send time also arrive on fd 3, for the `--fresh` viewers' bookkeeping.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { buildC } from './_fanout-harness.ts';

export interface PlacersShape {
  readonly port: number;
  readonly placers: number;
  readonly identities: number;
  readonly maxIdentities: number;
  readonly size: number;
  readonly tile: number;
  /** The guests' viewport (`x,y,w,h`): inside the tile at the origin, where no placement lands. */
  readonly view: string;
  /** Whole-canvas viewers in the same process, opened first; `timing` of them time every pixel's delivery. */
  readonly viewers: number;
  readonly timing: number;
}

export interface PlacersStatus {
  readonly identities: number;
  readonly opening: number;
  readonly sinceGrowthMs: number;
}

export interface PlacersReport {
  readonly accepted: number;
  readonly refused: number;
  readonly waited: number;
  readonly rttP50Ms: number;
  readonly rttP99Ms: number;
  readonly identities: number;
  readonly openedWhileMeasuring: number;
  readonly closedGuests: number;
  /** Sequences not handed to fd 3 (its reader fell 64 KiB behind): their delivery is not timed. */
  readonly droppedSeqs: number;
  readonly cpuSeconds: number;
  /** From a placement's send to its `pixels` frame's arrival at a timing viewer (1 ms buckets; -1: none). */
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  readonly deliverySamples: number;
  /** Pixels whose send time had left the harness's ring (or never came: another client's placement). */
  readonly untimed: number;
  readonly viewersOpen: number;
  /** Viewer sockets the server closed. */
  readonly viewerCloses: number;
  readonly pixelsFrames: number;
}

export interface CPlacers {
  readonly pid: number;
  status(): Promise<PlacersStatus>;
  /** Resets the counters and starts the measured window. */
  measure(): Promise<void>;
  /** Ends the measured window. */
  report(): Promise<PlacersReport>;
  close(): Promise<void>;
}

export async function startCPlacers(
  shape: PlacersShape,
  onAccepted: (seq: number, sentAtMs: number) => void,
): Promise<CPlacers> {
  const binary = buildC('./_players-epoll.c', 'players-epoll');
  const child = spawn(
    binary,
    [
      shape.port,
      shape.placers,
      shape.identities,
      shape.maxIdentities,
      shape.size,
      shape.tile,
      shape.view,
      shape.viewers,
      shape.timing,
    ].map(String),
    { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] },
  );
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => waiting.shift()?.(line));
  const nextLine = (what: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`players harness: no answer to ${what}`)), 30_000);
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  const ask = (command: string) => {
    const answer = nextLine(command);
    child.stdin!.write(`${command}\n`);
    return answer;
  };
  // (seq f64, sentAt f64) records, split anywhere by the pipe.
  let rest = Buffer.alloc(0);
  (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
    const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    const whole = data.length - (data.length % 16);
    for (let o = 0; o < whole; o += 16) onAccepted(data.readDoubleLE(o), data.readDoubleLE(o + 8));
    rest = Buffer.from(data.subarray(whole));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if ((await nextLine('start')) !== 'ready') throw new Error('players harness did not start');
  return {
    pid: child.pid!,
    status: async () => JSON.parse(await ask('status')) as PlacersStatus,
    measure: async () => {
      await ask('measure');
    },
    report: async () => JSON.parse(await ask('report')) as PlacersReport,
    close: async () => {
      await ask('close').catch(() => undefined);
      child.stdin!.end('exit\n');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      child.kill('SIGKILL');
    },
  };
}
