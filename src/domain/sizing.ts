/**
 * Sizing the edges for N clients from measured inputs (issue 14, deliverable 6): pure arithmetic, so the table in
 * deploy/README.md is printed from its inputs (`npm run bench -- sizing`) and cannot drift from the formula.
 *
 * The model, per client class (whole-canvas viewers, zoomed-in viewers):
 * - frames per client per second `f`: one `pixels` frame per flush window while events arrive. A viewer that
 *   gets only the events inside its view receives a frame only in the windows that had at least one of them:
 *   `f × (1 − e^(−λ/f))` with `λ` its events per second (placements arriving as a Poisson process). A class
 *   with `measured` figures (`npm run bench -- fanout-viewport`) is sent at most once per
 *   max(window, its `minSendIntervalMs`: the tile window for zoomed-in viewers), costs its measured CPU per send
 *   (a send: one socket write, which may hold several tile frames) and its measured bytes per second.
 * - edge CPU = clients × frames/s × CPU per frame, plus each edge process's fixed cost (tailing the stream at
 *   the placement rate). An edge process is one Node thread, so it holds at most as many clients as fit in
 *   `utilization` of one core, and at most `maxClientsPerProcess`.
 * - memory per process = its RSS before clients + clients × RSS per connection + storm headroom (clients
 *   × the transient RSS per reconnecting client, for the clients of a failed process landing on it).
 * - bandwidth per client = records × 5 B + per frame: the 22-byte header, the WebSocket header and the TCP/IP
 *   headers of each segment (IPv4 + TCP with timestamps, 52 B per segment of at most `mss` bytes).
 */

/** Measured inputs; each is cited with its BENCHMARKS.md section where the table is printed. */
export interface SizingInputs {
  readonly clients: number;
  readonly placementsPerSecond: number;
  /** Flush window (ms) while events flow: 50 = `FLUSH_WINDOW_MS`, 250 = `FLUSH_WINDOW_MAX_MS`. */
  readonly windowMs: number;
  /** Edge CPU per delivered `pixels` frame (µs), as measured (at the frame size of that run). */
  readonly cpuPerFrameUs: number;
  /** An edge process's CPU with placements flowing and no client (cores). */
  readonly edgeFixedCores: number;
  /** Share of one core an edge process may use, leaving headroom for storms and GC (0–1]. */
  readonly utilization: number;
  /** RSS of an edge process before clients (MiB), canvas, ring and warmed heap included. */
  readonly edgeBaseMiB: number;
  /** RSS per connection with live updates (KiB). */
  readonly rssPerConnectionKiB: number;
  /** Transient RSS per client reconnecting onto a process (KiB; the storm's buffered catch-up frames). */
  readonly stormKiBPerClient: number;
  /** Share of one process's clients that may land on one other process after it fails (0–1). */
  readonly stormShare: number;
  /** CPU per accepted placement summed over edge, nats-server and redis-server (µs). */
  readonly cpuPerPlacementUs: number;
  /** Most clients one process is sized for (the most measured on one edge), whatever the CPU would allow. */
  readonly maxClientsPerProcess: number;
  /** Largest TCP segment payload (bytes). */
  readonly mss: number;
}

/** One class of viewers: its share of the clients and the share of placements it receives. */
export interface ViewerClass {
  readonly name: string;
  readonly share: number;
  /** Share of all placements inside this class's view: 1 for whole-canvas viewers. */
  readonly placementsInView: number;
  /** Measured per client of this class (replaces the frame model): from a fanout-viewport run. */
  readonly measured?: MeasuredClass;
}

/** One viewer class as a benchmark measured it, per client. */
export interface MeasuredClass {
  /** Edge CPU per send (µs) above the edge's fixed cost: a send is one socket write (the client's reads). */
  readonly cpuPerSendUs: number;
  /** WebSocket bytes per second (frames with their headers, without TCP/IP) at the sizing's placement rate. */
  readonly wsBytesPerSecond: number;
  /** Shortest time between two sends (ms): the tile window for zoomed-in viewers, 0 for whole-canvas ones. */
  readonly minSendIntervalMs: number;
}

export interface SizingRow {
  readonly framesPerClientPerSecond: number;
  readonly bytesPerClientPerSecond: number;
  readonly fanoutCores: number;
  readonly clientsPerProcess: number;
  readonly processes: number;
  /** Cores to provision: one per edge process (a Node process uses one). */
  readonly edgeCores: number;
  readonly placementCores: number;
  readonly edgeMemoryGiB: number;
  readonly bandwidthGbitPerSecond: number;
}

const RECORD_BYTES = 5;
const PIXELS_HEADER_BYTES = 22;
const TCP_IP_HEADER_BYTES = 52;

/** A server-to-client WebSocket frame header (unmasked): 2, 4 or 10 bytes by payload length (RFC 6455 §5.2). */
export function wsHeaderBytes(payload: number): number {
  return payload < 126 ? 2 : payload < 65_536 ? 4 : 10;
}

/** Bytes on the wire for one `pixels` frame of `records` records. */
export function frameWireBytes(records: number, mss: number): number {
  const payload = PIXELS_HEADER_BYTES + RECORD_BYTES * records;
  const ws = payload + wsHeaderBytes(payload);
  return ws + TCP_IP_HEADER_BYTES * Math.max(1, Math.ceil(ws / mss));
}

/** Frames per second a viewer receives: one per window that holds at least one of its `eventsPerSecond`. */
export function framesPerSecond(windowMs: number, eventsPerSecond: number): number {
  const windows = 1000 / windowMs;
  return windows * (1 - Math.exp(-eventsPerSecond / windows));
}

function check(inputs: SizingInputs, classes: readonly ViewerClass[]): void {
  const positive: (keyof SizingInputs)[] = [
    'clients',
    'placementsPerSecond',
    'windowMs',
    'cpuPerFrameUs',
    'utilization',
    'mss',
    'maxClientsPerProcess',
  ];
  for (const k of positive) if (!(inputs[k] > 0)) throw new RangeError(`sizing: ${k} must be > 0 (got ${inputs[k]})`);
  if (inputs.utilization > 1) throw new RangeError('sizing: utilization must be at most 1 (one core per process)');
  if (inputs.edgeFixedCores >= inputs.utilization)
    throw new RangeError('sizing: edgeFixedCores leaves no room for clients');
  const total = classes.reduce((a, c) => a + c.share, 0);
  if (classes.length === 0 || Math.abs(total - 1) > 1e-9)
    throw new RangeError(`sizing: class shares must add up to 1 (got ${total})`);
  for (const c of classes) {
    if (c.placementsInView <= 0 || c.placementsInView > 1)
      throw new RangeError(`sizing: ${c.name}: placementsInView must be in (0, 1]`);
    const m = c.measured;
    if (m && !(m.cpuPerSendUs > 0 && m.wsBytesPerSecond >= 0 && m.minSendIntervalMs >= 0))
      throw new RangeError(`sizing: ${c.name}: measured CPU per send must be > 0, bytes and interval ≥ 0`);
  }
}

/** The edge fleet (and the placement path's CPU) for `inputs.clients` viewers split into `classes`. */
export function sizeEdges(inputs: SizingInputs, classes: readonly ViewerClass[]): SizingRow {
  check(inputs, classes);
  let frames = 0;
  let bytes = 0;
  let perClientCores = 0;
  for (const c of classes) {
    const events = inputs.placementsPerSecond * c.placementsInView;
    if (c.measured) {
      const m = c.measured;
      const sends = framesPerSecond(Math.max(inputs.windowMs, m.minSendIntervalMs), events);
      const segments = Math.max(1, Math.ceil(m.wsBytesPerSecond / Math.max(sends, 1e-9) / inputs.mss));
      frames += c.share * sends;
      bytes += c.share * (m.wsBytesPerSecond + sends * segments * TCP_IP_HEADER_BYTES);
      perClientCores += c.share * sends * m.cpuPerSendUs * 1e-6;
      continue;
    }
    const f = framesPerSecond(inputs.windowMs, events);
    frames += c.share * f;
    bytes += c.share * f * frameWireBytes(events / f, inputs.mss);
    perClientCores += c.share * f * inputs.cpuPerFrameUs * 1e-6;
  }
  const clientsPerProcess = Math.min(
    inputs.maxClientsPerProcess,
    Math.floor((inputs.utilization - inputs.edgeFixedCores) / perClientCores),
  );
  const processes = Math.ceil(inputs.clients / clientsPerProcess);
  const perProcessMiB =
    inputs.edgeBaseMiB +
    (clientsPerProcess * (inputs.rssPerConnectionKiB + inputs.stormShare * inputs.stormKiBPerClient)) / 1024;
  return {
    framesPerClientPerSecond: frames,
    bytesPerClientPerSecond: bytes,
    fanoutCores: inputs.clients * perClientCores,
    clientsPerProcess,
    processes,
    edgeCores: processes,
    placementCores: inputs.placementsPerSecond * inputs.cpuPerPlacementUs * 1e-6,
    edgeMemoryGiB: (processes * perProcessMiB) / 1024,
    bandwidthGbitPerSecond: (inputs.clients * bytes * 8) / 1e9,
  };
}
