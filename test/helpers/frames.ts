/** Reading the edge's binary frames in tests: a pixels frame as its sequence range and [x, y, colour] triples. */
import { decodeFrame, forEachPixel, FrameType } from '../../proto/frames.ts';

export function pixelsOf(frame: Uint8Array): { firstSeq: number; lastSeq: number; pixels: number[][] } {
  const decoded = decodeFrame(frame);
  if (decoded.type !== FrameType.Pixels) throw new Error('expected pixels');
  const out: number[][] = [];
  forEachPixel(decoded, (x, y, c) => out.push([x, y, c]));
  return { firstSeq: decoded.firstSeq, lastSeq: decoded.lastSeq, pixels: out };
}
