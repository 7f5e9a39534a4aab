/** The sizing formula (src/domain/sizing.ts): hand-computed cases, limits, and that its inputs are checked. */
import { describe, expect, it } from 'vitest';
import {
  frameWireBytes,
  framesPerSecond,
  sizeEdges,
  wsHeaderBytes,
  type SizingInputs,
} from '../../src/domain/sizing.ts';

const inputs: SizingInputs = {
  clients: 1_000_000,
  placementsPerSecond: 3333,
  windowMs: 50,
  cpuPerFrameUs: 10,
  edgeFixedCores: 0.1,
  utilization: 0.6,
  edgeBaseMiB: 100,
  rssPerConnectionKiB: 1,
  stormKiBPerClient: 0,
  stormShare: 0,
  cpuPerPlacementUs: 200,
  mss: 1448,
  maxClientsPerProcess: 19_000,
};
const whole = [{ name: 'whole', share: 1, placementsInView: 1 }];

describe('frame bytes', () => {
  it('given payload lengths at the RFC 6455 boundaries, then the header is 2, 4 or 10 bytes', () => {
    expect([125, 126, 65_535, 65_536].map(wsHeaderBytes)).toEqual([2, 4, 4, 10]);
  });
  it('given 0 and 400 records, then header + records + ws header + 52 B per TCP segment', () => {
    expect(frameWireBytes(0, 1448)).toBe(22 + 2 + 52);
    expect(frameWireBytes(400, 1448)).toBe(2022 + 4 + 2 * 52);
  });
});

describe('frames per second', () => {
  it('given 3,333 events/s and a 50 ms window, then every window has a frame', () => {
    expect(framesPerSecond(50, 3333)).toBeCloseTo(20, 9);
  });
  it('given 8.33 events/s, then only the windows holding one: 20 × (1 − e^(−0.4167))', () => {
    expect(framesPerSecond(50, 8.333)).toBeCloseTo(20 * (1 - Math.exp(-8.333 / 20)), 9);
    expect(framesPerSecond(50, 8.333)).toBeCloseTo(6.815, 3);
  });
});

describe('sizeEdges', () => {
  it('given whole-canvas viewers, then cores, processes, memory and bandwidth as computed by hand', () => {
    const r = sizeEdges(inputs, whole);
    expect(r.framesPerClientPerSecond).toBeCloseTo(20, 9);
    expect(r.fanoutCores).toBeCloseTo(200, 6); // 1e6 × 20 × 10 µs
    expect(r.clientsPerProcess).toBe(2500); // (0.6 − 0.1) / (20 × 10 µs)
    expect(r.processes).toBe(400);
    expect(r.edgeCores).toBe(400);
    expect(r.placementCores).toBeCloseTo(0.6666, 4);
    expect(r.edgeMemoryGiB).toBeCloseTo((400 * (100 + 2500 / 1024)) / 1024, 9);
    // 166.65 records a frame: 22 + 833.25 + 4 + 52 = 911.25 B, 20 a second, 1e6 clients, 8 bits.
    expect(r.bytesPerClientPerSecond).toBeCloseTo(20 * 911.25, 6);
    expect(r.bandwidthGbitPerSecond).toBeCloseTo(145.8, 6);
  });

  it('given a mix, then it is the share-weighted sum; a narrower view never costs more', () => {
    const all = sizeEdges(inputs, whole);
    const mix = sizeEdges(inputs, [
      { name: 'whole', share: 0.2, placementsInView: 1 },
      { name: 'zoomed', share: 0.8, placementsInView: 0.0025 },
    ]);
    const zoomed = sizeEdges(inputs, [{ name: 'zoomed', share: 1, placementsInView: 0.0025 }]);
    expect(mix.framesPerClientPerSecond).toBeCloseTo(
      0.2 * all.framesPerClientPerSecond + 0.8 * zoomed.framesPerClientPerSecond,
      9,
    );
    expect(mix.bytesPerClientPerSecond).toBeCloseTo(
      0.2 * all.bytesPerClientPerSecond + 0.8 * zoomed.bytesPerClientPerSecond,
      6,
    );
    expect(zoomed.fanoutCores).toBeLessThan(mix.fanoutCores);
    expect(mix.fanoutCores).toBeLessThan(all.fanoutCores);
    expect(mix.bandwidthGbitPerSecond).toBeLessThan(all.bandwidthGbitPerSecond);
  });

  it('given a measured class, then sends at most once per max(window, its interval) at its CPU per send and its bytes', () => {
    const zoomed = {
      name: 'zoomed',
      share: 1,
      placementsInView: 0.0375, // 2.4 of 64 tiles: 125 events/s, every 200 ms window holds some
      measured: { cpuPerSendUs: 8, wsBytesPerSecond: 800, minSendIntervalMs: 200 },
    };
    const r = sizeEdges(inputs, [zoomed]);
    const sends = 5 * (1 - Math.exp(-125 / 5));
    expect(r.framesPerClientPerSecond).toBeCloseTo(sends, 9);
    expect(r.fanoutCores).toBeCloseTo(1e6 * sends * 8e-6, 6);
    expect(r.bytesPerClientPerSecond).toBeCloseTo(800 + sends * 52, 6); // 160 B a send: one segment each
    // A flush window longer than the class's interval sets the pace.
    expect(sizeEdges({ ...inputs, windowMs: 250 }, [zoomed]).framesPerClientPerSecond).toBeCloseTo(
      4 * (1 - Math.exp(-125 / 4)),
      9,
    );
    const bad = { ...zoomed, measured: { ...zoomed.measured, cpuPerSendUs: 0 } };
    expect(() => sizeEdges(inputs, [bad])).toThrow(/CPU per send/);
  });

  it("given storm headroom, then each process holds room for that share of another one's clients", () => {
    const r = sizeEdges({ ...inputs, stormKiBPerClient: 68, stormShare: 1 }, whole);
    expect(r.edgeMemoryGiB).toBeCloseTo((400 * (100 + (2500 * 69) / 1024)) / 1024, 9);
  });

  it('given a CPU budget for more clients than the most measured on one process, then the measured count', () => {
    const r = sizeEdges({ ...inputs, windowMs: 1000, cpuPerFrameUs: 1 }, whole); // CPU would allow 500,000
    expect(r.clientsPerProcess).toBe(19_000);
    expect(r.processes).toBe(Math.ceil(1_000_000 / 19_000));
  });

  it.each([
    [{ clients: 0 }, /clients/],
    [{ utilization: 1.5 }, /utilization/],
    [{ edgeFixedCores: 0.6 }, /edgeFixedCores/],
    [{ windowMs: 0 }, /windowMs/],
  ])('given %o, then a RangeError naming the input', (bad, message) => {
    expect(() => sizeEdges({ ...inputs, ...bad }, whole)).toThrow(message);
  });
  it('given shares not adding up to 1, then a RangeError', () => {
    expect(() => sizeEdges(inputs, [{ name: 'a', share: 0.5, placementsInView: 1 }])).toThrow(/add up to 1/);
    expect(() => sizeEdges(inputs, [{ name: 'a', share: 1, placementsInView: 0 }])).toThrow(/placementsInView/);
  });
});
