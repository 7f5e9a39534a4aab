/**
 * `npm run bench -- sizing [--clients 1000000] [--rate 3333] [--zoomed 0.8] [--utilization 0.7] [--storm-share 1] [--frame-us 5.46]`
 *
 * Measures nothing: prints the edge sizing table of deploy/README.md from the measured inputs below (each cited
 * with its BENCHMARKS.md section and command) through the pure formula in src/domain/sizing.ts. Change an input
 * here when a benchmark is re-run, then paste the output into deploy/README.md.
 */
import { parseArgs } from 'node:util';
import { sizeEdges, type MeasuredClass, type SizingInputs, type ViewerClass } from '../src/domain/sizing.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '3333' },
    zoomed: { type: 'string', default: '0.8' },
    utilization: { type: 'string', default: '0.7' },
    'storm-share': { type: 'string', default: '1' },
    // CPU per frame to size with (µs): 5.46 is the 2026-12-02 quiet run; other runs are cited in deploy/README.md.
    'frame-us': { type: 'string', default: '5.46' },
  },
});

/** Each input with where it was measured (BENCHMARKS.md section, command) or that it is an assumption. */
const SOURCES: Record<string, string> = {
  measured:
    'fanout-viewport › 2026-12-02: `npm run bench -- fanout-viewport --port 14400` (10,000 clients a phase, load 2.5–4.2): µs of edge CPU per client read = per send: whole-canvas 5.45, zoomed-in 5.57 (TILE_WINDOW_MS 0) and 6.68 (200); bytes per client: 16.63, 1.12 and 0.77 KiB/s',
  cpuPerFrameUs:
    'fanout › 2026-12-02: `npm run bench -- fanout --groups 4 --port 14100` (10,000 clients, load 0.6–1.0): 5.46 µs per frame of 1,033 B at 16.6 frames a second per client',
  edgeFixedCores: 'fanout › 2026-12-02: same run, "fixed cost 5.0 % of a core" (tailing 3,333 events/s, no client)',
  edgeBaseMiB:
    'fanout-connections › 2026-12-02: `npm run bench -- fanout-connections --port 14600` (19,000 clients, 30 s of live updates, load 1.4–2.2): RSS 152–155 MiB before the clients',
  rssPerConnectionKiB:
    'fanout-connections › 2026-12-02 06:03–06:07, after the batched cooldown read (f3ef400): 0.90 KiB per connection with live updates for new guests, 1.40 and 0.56 with `--returning` (median of 30 s); the largest is used. Not in the model: zoomed-in viewers also leave transient RSS from their tile snapshots, the fanout-viewport edge reached 845–892 MiB with 10,000 of them (283 MiB with whole-canvas ones), ~60 KiB a client, the order of the storm headroom below',
  stormKiBPerClient:
    'fanout-storm › 2026-12-02 06:07: `npm run bench -- fanout-storm --port 14500` (10,000 clients, load 2.4): peak RSS +31.8 KiB per resuming client (480 MiB from 169; +49.8 at 05:07, before f3ef400)',
  cpuPerPlacementUs:
    'placements › 2026-12-02: `npm run bench -- placements --seconds 20 --rate-seconds 20` (load 3.6–4.1), open loop at 3,333/s: 115.2 + 60.5 + 46.8 = 222.5 µs (bench process with the command path and projector + nats-server + redis-server)',
  utilization:
    'assumption: a process may use this share of its core (the storm run took an idle edge to 74 % of a core)',
  stormShare: "assumption: share of a failed process's clients one process must absorb (1 = all, as in the storm run)",
  maxClientsPerProcess:
    'fanout › Issue 14: the fanout-connections run above held 19,000 clients on one edge (the descriptor limit here is 20,000)',
  mss: 'assumption: 1,448-byte TCP segments (1,500 MTU, IPv4, TCP timestamps)',
};

const base = (windowMs: number): SizingInputs => ({
  clients: Number(values.clients),
  placementsPerSecond: Number(values.rate),
  windowMs,
  cpuPerFrameUs: Number(values['frame-us']),
  edgeFixedCores: 0.05,
  utilization: Number(values.utilization),
  edgeBaseMiB: 155,
  rssPerConnectionKiB: 1.4,
  stormKiBPerClient: 31.8,
  stormShare: Number(values['storm-share']),
  cpuPerPlacementUs: 222.5,
  maxClientsPerProcess: 19_000,
  mss: 1448,
});

/**
 * The viewer classes as `npm run bench -- fanout-viewport` measured them (3,333 uniformly random placements/s,
 * 200×150 views; SOURCES below): edge CPU per send above the fixed cost (a send = one socket write = one read by
 * the client) and WebSocket bytes per second per client, both from the same 10,000-client run (2026-12-02, on a
 * quiet machine it was sent close to the full rate: 16.63 KiB/s a whole-canvas client).
 */
const MEASURED = {
  whole: { cpuPerSendUs: 5.45, wsBytesPerSecond: 16.63 * 1024, minSendIntervalMs: 0 },
  zoomedEveryFlush: { cpuPerSendUs: 5.57, wsBytesPerSecond: 1.12 * 1024, minSendIntervalMs: 0 },
  // The tiles go out with the first publish past the 200 ms window: every 200–250 ms (4.1–4.3 a second measured).
  zoomedTileWindow: { cpuPerSendUs: 6.68, wsBytesPerSecond: 0.77 * 1024, minSendIntervalMs: 225 },
} satisfies Record<string, MeasuredClass>;
/** Share of all placements in the tiles a 200×150 view touches: 2.8 tiles of 64 (12.1 tile frames per 4.3 sends, measured). */
const VIEW_TILES_SHARE = 2.8 / 64;

const zoomed = Number(values.zoomed);
const pct = Math.round(zoomed * 100);
const mixes: { label: string; classes: ViewerClass[] }[] = [
  {
    label: 'all whole-canvas (model, measured CPU per frame)',
    classes: [{ name: 'whole', share: 1, placementsInView: 1 }],
  },
  {
    label: `all whole-canvas (measured in fanout-viewport)`,
    classes: [{ name: 'whole', share: 1, placementsInView: 1, measured: MEASURED.whole }],
  },
  {
    label: `${pct} % zoomed in, TILE_WINDOW_MS 0 (measured)`,
    classes: [
      { name: 'whole', share: 1 - zoomed, placementsInView: 1, measured: MEASURED.whole },
      { name: 'zoomed', share: zoomed, placementsInView: VIEW_TILES_SHARE, measured: MEASURED.zoomedEveryFlush },
    ],
  },
  {
    label: `${pct} % zoomed in, TILE_WINDOW_MS 200 (measured; the default)`,
    classes: [
      { name: 'whole', share: 1 - zoomed, placementsInView: 1, measured: MEASURED.whole },
      { name: 'zoomed', share: zoomed, placementsInView: VIEW_TILES_SHARE, measured: MEASURED.zoomedTileWindow },
    ],
  },
];

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const lines = [
  `| viewers | window | frames/client/s | edge CPU for fan-out | clients per process | edge processes = cores | edge memory | bandwidth | placement path |`,
  '|---|---|---|---|---|---|---|---|---|',
];
for (const mix of mixes) {
  for (const windowMs of [50, 250]) {
    const r = sizeEdges(base(windowMs), mix.classes);
    lines.push(
      `| ${mix.label} | ${windowMs} ms | ${fmt(r.framesPerClientPerSecond, 1)} | ${fmt(r.fanoutCores)} cores | ${fmt(r.clientsPerProcess)} | **${fmt(r.edgeCores)}** | ${fmt(r.edgeMemoryGiB)} GiB | ${fmt(r.bandwidthGbitPerSecond)} Gbit/s (${fmt(r.bytesPerClientPerSecond / 1000, 1)} kB/s a client) | ${fmt(r.placementCores, 2)} cores |`,
    );
  }
}
process.stdout.write(
  `${lines.join('\n')}\n\nInputs (${fmt(Number(values.clients))} clients, ${fmt(Number(values.rate))} placements/s):\n`,
);
const shown = base(50);
for (const [k, source] of Object.entries(SOURCES))
  process.stdout.write(
    `- ${k} = ${k === 'measured' ? JSON.stringify(MEASURED) : String(shown[k as keyof SizingInputs])}: ${source}\n`,
  );
