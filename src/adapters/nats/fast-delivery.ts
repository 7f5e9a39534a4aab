/**
 * A fast path, under nats.js's protocol parser, for the messages of chosen subscriptions of one connection
 * (the pixel tail's inbox: pixel-tail.ts).
 *
 * Why: profiling the full replay rebuild (`npm run bench -- rebuild --profile DIR`, BENCHMARKS.md "Recovery",
 * nats.js 3.4) put nats.js's parser at ~29 % of the process's CPU: it walks every byte of each `HMSG` control line
 * (~150 bytes: inbox, sid, the `$JS.ACK…` reply, sizes) through its state machine, walks them again to split the
 * arguments, and builds five subarrays, an argument object, an event object and a `Msg` per message, whose reply
 * and subject the tail then decoded into strings. Here a whole operation is found with one `indexOf('\n')`, its
 * sizes are read from the end of the line, and a message for a registered subscription is handed over as offsets
 * into the socket read: no object and no string per message.
 *
 * How: nats.js 3.4 reads `for await (const b of transport) protocol.parser.parse(b)` and makes a new `Parser` on
 * every (re)connect. The connection's `parser` property is wrapped by a framer that cuts each socket read into
 * whole protocol operations. An `HMSG`/`MSG` for a registered sid goes to its handler; everything else (other
 * subscriptions, PING/PONG, INFO, -ERR, a message the handler declines) goes, whole and in order, to nats.js's
 * own parser, which so keeps its own state (pings, errors, status messages) and stands at an operation boundary
 * between calls. An operation split over two socket reads is kept and joined to the next read when it is a
 * registered message (at most `MAX_CARRY` bytes), otherwise handed to nats.js's parser with the count of the bytes
 * it still needs; a line the framer does not recognise hands the stream to nats.js's parser until that parser is
 * back at a boundary (also at install, when the last read ended inside an operation). When the connection does
 * not look like nats.js 3.4 inside, nothing is installed and every message takes nats.js's path (the handler is
 * simply never called). Once installed the framer stays for the connection's life; what it adds to a message
 * of another subscription is one line scan, before nats.js's own parse.
 *
 * Not kept for a registered subscription: its `received` count and its `max` (auto-unsubscribe); the pixel tail
 * uses neither. The connection's `stats()` still count the messages.
 */
import type { NatsConnection } from '@nats-io/nats-core';

/** A message handed to a fast handler: offsets into `frame`, valid only during the call. */
export interface FastMessage {
  frame: Uint8Array;
  subjectStart: number;
  subjectEnd: number;
  /** -1 when the message has no reply subject (JetStream status messages). */
  replyStart: number;
  replyEnd: number;
  /** The header block (`NATS/1.0…`) is `[headersStart, dataStart)`; empty for a `MSG`. */
  headersStart: number;
  dataStart: number;
  dataEnd: number;
}

/** Takes the message (true) or declines it (false: it is delivered through nats.js instead, as usual). */
export type FastHandler = (message: FastMessage) => boolean;

/** What the framer needs of nats.js's `Parser` (nats-core/lib/parser.js). */
interface InnerParser {
  state: number;
  parse(buf: Uint8Array): void;
}
interface ProtocolStats {
  inMsgs: number;
  inBytes: number;
}

/** nats.js's `State.OP_START`: between operations. */
const OP_START = 0;
const NL = 10;
const CR = 13;
const SPACE = 32;
/** A registered message split over reads is joined to the next one up to this size (ours are ~300 bytes). */
const MAX_CARRY = 64 * 1024;
/** A control line longer than this without its `\n` goes to nats.js's parser (INFO is the longest: a few KB). */
const MAX_CONTROL_LINE = 64 * 1024;

const framers = new WeakMap<NatsConnection, Framer | null>();

/**
 * Hands the messages of subscription `sid` on `nc` to `handler` before nats.js parses them; returns the removal
 * (call it before unsubscribing, or after: messages for a removed sid take nats.js's path).
 */
export function deliverFast(nc: NatsConnection, sid: number, handler: FastHandler): () => void {
  let framer = framers.get(nc);
  if (framer === undefined) {
    framer = install(nc);
    framers.set(nc, framer);
  }
  if (framer === null) return () => undefined;
  const handlers = framer.handlers;
  handlers.set(sid, handler);
  return () => {
    if (handlers.get(sid) === handler) handlers.delete(sid);
  };
}

function install(nc: NatsConnection): Framer | null {
  const protocol = (nc as { protocol?: { parser?: unknown } & Partial<ProtocolStats> }).protocol;
  const parser = protocol?.parser as Partial<InnerParser> | undefined;
  if (!protocol || typeof parser?.parse !== 'function' || typeof parser.state !== 'number') return null;
  if (typeof protocol.inMsgs !== 'number' || typeof protocol.inBytes !== 'number') return null;
  // The framer relies on a fresh parser standing at OP_START = 0 (nats-core 3.4 `State`).
  const ParserClass = (parser as { constructor: new (dispatcher: unknown) => InnerParser }).constructor;
  if (new ParserClass({ push: () => undefined }).state !== OP_START) return null;
  const framer = new Framer(parser as InnerParser, protocol as ProtocolStats);
  Object.defineProperty(protocol, 'parser', {
    configurable: true,
    enumerable: true,
    get: () => framer,
    // A reconnect: a new parser for a new byte stream, which starts at an operation boundary.
    set: (next: InnerParser) => framer.reset(next),
  });
  return framer;
}

/** Where `numberBefore` found its number's first digit. */
let numberStart = 0;

/** The decimal number whose last digit is `buf[end - 1]` (at most 15 digits, none before `min`); -1 when none. */
function numberBefore(buf: Uint8Array, end: number, min: number): number {
  let n = 0;
  let scale = 1;
  let i = end - 1;
  for (; i >= min && end - i <= 15; i--) {
    const d = (buf[i] as number) - 48;
    if (d < 0 || d > 9) break;
    n += d * scale;
    scale *= 10;
  }
  numberStart = i + 1;
  return numberStart === end ? -1 : n;
}

class Framer {
  readonly handlers = new Map<number, FastHandler>();
  readonly #message: FastMessage = {
    frame: new Uint8Array(0),
    subjectStart: 0,
    subjectEnd: 0,
    replyStart: -1,
    replyEnd: -1,
    headersStart: 0,
    dataStart: 0,
    dataEnd: 0,
  };
  #inner: InnerParser;
  readonly #stats: ProtocolStats;
  /** The start of a registered message whose end has not arrived yet. */
  #carry: Uint8Array | null = null;
  /** Bytes nats.js's parser still needs to finish the operation it was handed the start of. */
  #passthrough = 0;
  /** nats.js's parser owns the stream until it is back at an operation boundary. */
  #fallback = false;

  constructor(inner: InnerParser, stats: ProtocolStats) {
    this.#inner = inner;
    this.#stats = stats;
    this.#fallback = inner.state !== OP_START; // installed between two reads that split an operation
  }

  reset(inner: InnerParser): void {
    this.#inner = inner;
    this.#carry = null;
    this.#passthrough = 0;
    this.#fallback = false;
  }

  parse(input: Uint8Array): void {
    // Framing goes on while no handler is registered: handing nats.js whole buffers could leave its parser inside
    // an operation at the end of nearly every read, and the framer would not find a boundary to resume at.
    if (this.#fallback) {
      this.#handOver(input);
      return;
    }
    let buf = input;
    let i = 0;
    if (this.#passthrough > 0) {
      const n = Math.min(this.#passthrough, buf.length);
      this.#inner.parse(buf.subarray(0, n));
      this.#passthrough -= n;
      if (this.#passthrough > 0) return;
      if (this.#inner.state !== OP_START) {
        this.#handOver(buf.subarray(n));
        return;
      }
      i = n;
    } else if (this.#carry !== null) {
      const joined = new Uint8Array(this.#carry.length + buf.length);
      joined.set(this.#carry);
      joined.set(buf, this.#carry.length);
      buf = joined;
      this.#carry = null;
    }
    const end = buf.length;
    while (i < end) {
      const nl = buf.indexOf(NL, i);
      if (nl === -1) {
        if (end - i > MAX_CONTROL_LINE) {
          this.#handOver(buf.subarray(i));
          return;
        }
        this.#carry = buf.slice(i);
        return;
      }
      const op = buf[i];
      // HMSG <subject> <sid> [reply] <header bytes> <total bytes>\r\n  or  MSG <subject> <sid> [reply] <bytes>\r\n
      const headers = op === 72 && buf[i + 1] === 77 && buf[i + 2] === 83 && buf[i + 3] === 71 && buf[i + 4] === SPACE;
      const plain = !headers && op === 77 && buf[i + 1] === 83 && buf[i + 2] === 71 && buf[i + 3] === SPACE;
      if (!headers && !plain) {
        // PING, PONG, +OK, -ERR, INFO: one line, nats.js's.
        this.#inner.parse(buf.subarray(i, nl + 1));
        if (this.#inner.state !== OP_START) {
          this.#handOver(buf.subarray(nl + 1));
          return;
        }
        i = nl + 1;
        continue;
      }
      const argsStart = i + (headers ? 5 : 4);
      const lineEnd = buf[nl - 1] === CR ? nl - 1 : nl;
      const total = numberBefore(buf, lineEnd, argsStart);
      let argsEnd = numberStart - 1;
      let headerBytes = 0;
      if (headers && total >= 0 && buf[argsEnd] === SPACE) {
        headerBytes = numberBefore(buf, argsEnd, argsStart);
        argsEnd = numberStart - 1;
      }
      if (total < 0 || headerBytes < 0 || headerBytes > total || buf[argsEnd] !== SPACE) {
        this.#handOver(buf.subarray(i)); // not the layout we read: nats.js's parser decides
        return;
      }
      const opEnd = nl + 1 + total + 2;
      // <subject> <sid>[ <reply>] before the sizes.
      const subjectEnd = buf.indexOf(SPACE, argsStart);
      let sid = -1;
      let replyStart = -1;
      if (subjectEnd > argsStart && subjectEnd < argsEnd) {
        let k = subjectEnd + 1;
        let n = 0;
        for (; k < argsEnd && k - subjectEnd <= 15; k++) {
          const d = (buf[k] as number) - 48;
          if (d < 0 || d > 9) break;
          n = n * 10 + d;
        }
        if (k > subjectEnd + 1 && k === argsEnd) sid = n;
        else if (k > subjectEnd + 1 && buf[k] === SPACE && k + 1 < argsEnd && buf.indexOf(SPACE, k + 1) === argsEnd) {
          sid = n;
          replyStart = k + 1;
        }
      }
      const handler = sid >= 0 ? this.handlers.get(sid) : undefined;
      if (opEnd > end) {
        if (handler !== undefined && opEnd - i <= MAX_CARRY) {
          this.#carry = buf.slice(i);
          return;
        }
        this.#inner.parse(buf.subarray(i));
        this.#passthrough = opEnd - end;
        return;
      }
      if (handler !== undefined && buf[opEnd - 2] === CR && buf[opEnd - 1] === NL) {
        const m = this.#message;
        m.frame = buf;
        m.subjectStart = argsStart;
        m.subjectEnd = subjectEnd;
        m.replyStart = replyStart;
        m.replyEnd = replyStart < 0 ? -1 : argsEnd;
        m.headersStart = nl + 1;
        m.dataStart = nl + 1 + headerBytes;
        m.dataEnd = nl + 1 + total;
        if (handler(m)) {
          this.#stats.inMsgs++;
          this.#stats.inBytes += total;
          i = opEnd;
          continue;
        }
      }
      this.#inner.parse(buf.subarray(i, opEnd));
      if (this.#inner.state !== OP_START) {
        this.#handOver(buf.subarray(opEnd));
        return;
      }
      i = opEnd;
    }
  }

  #handOver(rest: Uint8Array): void {
    this.#inner.parse(rest);
    this.#fallback = this.#inner.state !== OP_START;
  }
}
