/**
 * `npm run bench -- sizing [--clients 1000000] [--rate 3333] [--zoomed 0.8] [--utilization 0.7] [--storm-share 1] [--frame-us 9.63]`
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
    // CPU per frame to size with (µs): 9.63 is the issue-14 quiet run; other runs are cited in deploy/README.md.
    'frame-us': { type: 'string', default: '9.63' },
  },
});

/** Each input with where it was measured (BENCHMARKS.md section, command) or that it is an assumption. */
const SOURCES: Record<string, string> = {
  measured:
    'fanout-viewport › 10,000 clients: `npm run bench -- fanout-viewport --port 14800` (load 23–28): µs of edge CPU per client read = per send: whole-canvas 7.01, zoomed-in 7.74 (TILE_WINDOW_MS 0) and 7.77 (200); bytes: `--clients 2000 --seconds 8 --port 14700` (load 23–31): 16.85, 1.12 and 0.75 KiB/s per client',
  cpuPerFrameUs:
    'fanout › Issue 14: `npm run bench -- fanout --clients 10000 --seconds 10 --port 3652` (load 2.1): 9.63 µs per frame of 2,024 B (bare uWS 8.68)',
  edgeFixedCores: 'fanout › Issue 14: same run, "fixed cost 10.5 % of a core" (tailing 3,333 events/s, no client)',
  edgeBaseMiB:
    'fanout › Issue 14: `npm run bench -- fanout-connections --clients 19000 --seconds 10 --port 3644`: RSS 158 MiB before the clients',
  rssPerConnectionKiB:
    'same run: 1.20 KiB per connection with live updates (1.92 right after connecting; 2.0 in the 10,000-client fanout run)',
  stormKiBPerClient:
    'fanout › Issue 14: `npm run bench -- fanout-storm --clients 10000 --port 3650`: peak RSS +68 KiB per resuming client (823 MiB from 159)',
  cpuPerPlacementUs:
    'placements: `npm run bench -- placements` (2026-11-28 05:41), open loop at 3,333/s: 76.2 + 102.3 + 24.9 = 203.4 µs (edge + nats-server + redis-server)',
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
  edgeFixedCores: 0.105,
  utilization: Number(values.utilization),
  edgeBaseMiB: 158,
  rssPerConnectionKiB: 1.2,
  stormKiBPerClient: 68,
  stormShare: Number(values['storm-share']),
  cpuPerPlacementUs: 203.4,
  maxClientsPerProcess: 19_000,
  mss: 1448,
});

/**
 * The viewer classes as `npm run bench -- fanout-viewport` measured them (3,333 uniformly random placements/s,
 * 200×150 views; SOURCES below): edge CPU per send above the fixed cost (a send = one socket write = one read by
 * the client; from the 10,000-client run) and WebSocket bytes per second per client (from the 2,000-client run,
 * the one closest to the full send rate: the 10,000-client run was starved by the machine's load).
 */
const MEASURED = {
  whole: { cpuPerSendUs: 7.01, wsBytesPerSecond: 16.85 * 1024, minSendIntervalMs: 0 },
  zoomedEveryFlush: { cpuPerSendUs: 7.74, wsBytesPerSecond: 1.12 * 1024, minSendIntervalMs: 0 },
  // The tiles go out with the first publish past the 200 ms window: every 200–250 ms (4.1–4.3 a second measured).
  zoomedTileWindow: { cpuPerSendUs: 7.77, wsBytesPerSecond: 0.75 * 1024, minSendIntervalMs: 225 },
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
