/*
 * Client harness of the fan-out benchmarks: one epoll thread holding up to ~19,000 WebSocket clients, cheap
 * enough per received frame that the benchmark measures the edge and not itself (the Node worker,
 * bench/_fanout-client.ts, costs ~9 µs per frame; this one ~1–2 µs: one read syscall and a header walk).
 * Built by bench/_fanout-harness.ts with the machine's gcc into bench/.build/ (gitignored); no dependencies.
 *
 * Driven by line commands on stdin, answered by one line on stdout:
 *   connect PORT COUNT SINCE OFFSET SAMPLE_EVERY [VIEW_W VIEW_H SIDE]  -> "connected OPEN FAILED"
 *     (with VIEW_W > 0 each client is a zoomed-in viewer: it upgrades with `?view=x,y,VIEW_W,VIEW_H` at a
 *      random place of the SIDE×SIDE canvas and gets `tile` and `tilePixels` frames instead of `pixels`)
 *   reconnect PORT        (from now on a dropped client reconnects to PORT with `since` = its last sequence,
 *                          backing off 1 s, 2 s, 4 s … 30 s plus 0–1 s of jitter, like src/client/rplace-client.ts) -> "ok"
 *   clock color  (from now on sampled clients time records by their color instead of their coordinates: the
 *                 bench places color 1 + (⌊ms / 50⌋ mod 31), so latency is read to 50 ms, up to 1.55 s; for
 *                 placements at random coordinates, which zoomed-in views need) -> "ok"
 *   reset | report (one JSON line) | disconnect | exit
 *
 * Every client walks frame headers and keeps the first 22 bytes of each binary frame, so sequence gaps are
 * checked on every `pixels` frame of every client (layout: proto/frames.ts), and per tile on every `tilePixels`
 * frame of every zoomed-in client (proto/tile-frames.ts: a `tile` snapshot at S sets the tile's sequence to S;
 * a `tilePixels` frame with prevSeq past it is a gap, one for a tile never snapshotted a stray). One client in SAMPLE_EVERY also
 * collects whole `pixels` payloads and reads each record's placement time (the bench places at
 * y·2000 + x = start ms mod 4,000,000) for placement → receipt latency. Pings get pongs, closes a close.
 * Clients bind to source addresses 127.0.0.10–127.0.0.209 so no single address runs out of ports.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "_harness.h"

#define MOD 4000000
#define HIST 30001
#define MAX_COLLECT (1 << 20)
#define MAX_CONNS 20000
#define IN_FLIGHT 250
#define SOURCES 200
#define TILE_GRID 16 /* tiles per side a zoomed-in client can track: canvases up to 4096 px */

enum { CONNECTING, HANDSHAKE, OPEN, WAITING, CLOSED };

typedef struct {
  int fd;
  uint8_t state, sampled, opcode, collecting, hlen, pfxlen, ctllen, awaiting;
  uint8_t hdr[14], pfx[22], ctl[125];
  ws_upgrade_t upgrade;
  uint64_t remaining, plen;
  uint8_t *payload;
  uint32_t collected;
  double lastSeq;
  uint32_t frames, attempt;
  int64_t downAt, retryAt;
  uint16_t port;
  uint16_t vx, vy, vw, vh; /* the view (vw = 0: a whole-canvas client) */
  double *tileSeq;         /* per tile (ty · TILE_GRID + tx): the sequence it reflects, -1 = no snapshot */
} conn_t;

static conn_t conns[MAX_CONNS];
static int nconns, epfd;
static uint8_t buf[256 * 1024];
static uint32_t hist[HIST];
static uint64_t frames, bytes, reads, samples, sampledFrames, checkedFrames, gaps, closedByServer, failed;
static int64_t lastResumedAt;
static uint32_t closeCodes[5000]; /* close frames received, by code; [0] = dropped without one */
static uint8_t gotClose[MAX_CONNS];
static uint64_t canvases, resumedCount, resumeGaps, attempts, failedAttempts;
static uint32_t resumeHist[HIST];
static uint64_t tileFrames, tileSnapshots, strayTiles, staleTiles;
static int colorClock; /* see "clock color" */
static int reconnectPort, waitingCount, pendingConnects, connectTarget, connectDone;
static struct rusage ruAtReset;
/* FANOUT_COOKIE: a Cookie header value every client sends (a returning guest), or none (a new guest each). */
static const char *cookie = NULL;

static int64_t nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static double rd64(const uint8_t *p) { double d; memcpy(&d, p, 8); return d; } /* x86-64: little-endian */
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void scheduleRetry(conn_t *c, int64_t now) {
  uint32_t shift = c->attempt < 5 ? c->attempt : 5;
  int64_t delay = 1000LL << shift;
  if (delay > 30000) delay = 30000;
  c->retryAt = now + delay + rand() % 1000;
  c->attempt++;
  c->state = WAITING;
  waitingCount++;
}

static int openSocket(conn_t *c, int port) {
  int fd = wsConnect(0x7f00000a + (uint32_t)((c - conns) % SOURCES), port);
  if (fd < 0) return -1;
  c->fd = fd;
  c->port = (uint16_t)port;
  c->state = CONNECTING;
  c->hlen = c->pfxlen = 0;
  c->remaining = 0;
  c->upgrade = (ws_upgrade_t){ 0, 0 };
  struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

/* The socket is gone: either it was a connect in progress (failed), or a live client dropped. */
static void lost(conn_t *c) {
  int wasOpen = c->state == OPEN;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  int64_t now = nowMs();
  if (c->state == CONNECTING || c->state == HANDSHAKE) {
    pendingConnects--;
    if (reconnectPort && c->downAt) { failedAttempts++; scheduleRetry(c, now); return; }
    failed++;
    c->state = CLOSED;
    connectDone++;
    return;
  }
  if (wasOpen) {
    closedByServer++;
    if (!gotClose[c - conns]) closeCodes[0]++;
  }
  gotClose[c - conns] = 0;
  if (reconnectPort) {
    if (!c->downAt) c->downAt = now;
    c->awaiting = 1;
    scheduleRetry(c, now);
  } else {
    c->state = CLOSED;
  }
}

/* The client continues its sequence after a reconnect: record how long it took since its drop. */
static void markResumed(conn_t *c) {
  int64_t now = nowMs(), ms = now - c->downAt;
  resumeHist[ms < HIST - 1 ? ms : HIST - 1]++;
  lastResumedAt = now;
  c->awaiting = 0;
  c->downAt = 0;
  resumedCount++;
}

static void onPixelsHeader(conn_t *c) {
  double first = rd64(c->pfx + 2), last = rd64(c->pfx + 10);
  checkedFrames++;
  if (c->awaiting) {
    if (first <= c->lastSeq + 1 && last >= c->lastSeq) {
      markResumed(c);
    } else if (first > c->lastSeq + 1) {
      resumeGaps++;
    }
  }
  if (c->lastSeq >= 0 && last > c->lastSeq && first > c->lastSeq + 1) gaps++;
  if (last > c->lastSeq) c->lastSeq = last;
}

static double *tileSlot(conn_t *c, const uint8_t *p) {
  uint32_t tx = (uint32_t)(p[0] | p[1] << 8), ty = (uint32_t)(p[2] | p[3] << 8);
  if (!c->tileSeq || tx >= TILE_GRID || ty >= TILE_GRID) return NULL;
  return &c->tileSeq[ty * TILE_GRID + tx];
}

/* `tilePixels` (type 3): tx u16, ty u16, prevSeq f64, seq f64 at offsets 2, 4, 6, 14. */
static void onTilePixelsHeader(conn_t *c) {
  double *l = tileSlot(c, c->pfx + 2), prev = rd64(c->pfx + 6), seq = rd64(c->pfx + 14);
  checkedFrames++;
  tileFrames++;
  if (!l || *l < 0) { strayTiles++; return; }
  if (seq <= *l) { staleTiles++; return; }
  if (prev > *l) gaps++;
  *l = seq;
  if (seq > c->lastSeq) c->lastSeq = seq;
}

static void endFrame(conn_t *c) {
  if (c->opcode == 2 && c->pfxlen >= 14 && c->pfx[1] == 4) {
    /* a `tile` snapshot (type 4): tx, ty, seq at offsets 2, 4, 6; the tile now reflects seq */
    double *l = tileSlot(c, c->pfx + 2), seq = rd64(c->pfx + 6);
    tileSnapshots++;
    if (l) *l = seq;
    else strayTiles++;
    if (c->awaiting) markResumed(c);
  } else if (c->opcode == 2 && c->pfxlen >= 2 && c->pfx[1] == 2 && c->pfxlen >= 10) {
    canvases++; /* a whole canvas: the client now reflects its seq */
    double seq = rd64(c->pfx + 2);
    if (c->awaiting) {
      markResumed(c);
    }
    c->lastSeq = seq;
  } else if (c->opcode == 2 && c->collecting && c->collected == c->plen && c->plen >= 26 && colorClock &&
             (c->pfx[1] == 1 || c->pfx[1] == 3)) {
    /* pixels records {x u16, y u16, color}: color at +4 of 5; tilePixels records {dx, dy, color}: +2 of 3 */
    int tile = c->pfx[1] == 3;
    uint32_t count = rd32(c->payload + (tile ? 22 : 18)), size = tile ? 3 : 5, first = tile ? 26 : 22;
    uint64_t end = first + (uint64_t)count * size;
    if (end > c->plen) end = c->plen;
    int64_t slot = (nowMs() / 50) % 31;
    sampledFrames++;
    for (uint64_t o = first; o + size <= end; o += size) {
      int64_t placed = (int64_t)c->payload[o + size - 1] - 1;
      int64_t latency = ((slot - placed + 31) % 31) * 50 + 25; /* the middle of its 50 ms slot */
      hist[latency]++;
      samples++;
    }
  } else if (c->opcode == 2 && c->collecting && c->collected == c->plen && c->plen >= 22 && c->pfx[1] == 1) {
    uint32_t count = rd32(c->payload + 18);
    uint64_t end = 22 + (uint64_t)count * 5;
    if (end > c->plen) end = c->plen;
    int64_t now = nowMs() % MOD;
    sampledFrames++;
    for (uint64_t o = 22; o + 5 <= end; o += 5) {
      const uint8_t *r = c->payload + o;
      int64_t code = (int64_t)(r[2] | (r[3] << 8)) * 2000 + (r[0] | (r[1] << 8));
      int64_t latency = (now - code + MOD) % MOD;
      hist[latency < HIST - 1 ? latency : HIST - 1]++;
      samples++;
    }
  } else if (c->opcode == 9) {
    wsSendSmall(c->fd, 0x8a, c->ctl, c->ctllen);
  } else if (c->opcode == 8) {
    uint32_t code = c->ctllen >= 2 ? (uint32_t)(c->ctl[0] << 8 | c->ctl[1]) : 0;
    closeCodes[code < 5000 ? code : 0]++;
    gotClose[c - conns] = 1;
    wsSendSmall(c->fd, 0x88, c->ctl, c->ctllen < 2 ? c->ctllen : 2);
  }
}

static void beginFrame(conn_t *c, const uint8_t *h) {
  uint64_t len = wsPayloadLength(h);
  c->opcode = h[0] & 15;
  c->remaining = c->plen = len;
  c->pfxlen = 0;
  c->ctllen = 0;
  c->collected = 0;
  c->collecting = 0;
  if (c->opcode == 2) {
    frames++;
    c->frames++;
    if (c->sampled && len <= MAX_COLLECT) {
      if (!c->payload) c->payload = malloc(MAX_COLLECT);
      c->collecting = 1;
    }
  }
  if (len == 0) endFrame(c);
}

/* Walks frames in p[0…n): headers parsed, payloads skipped except the 22-byte prefix and sampled frames. */
static void walk(conn_t *c, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (c->remaining > 0) {
      size_t take = c->remaining < n - i ? (size_t)c->remaining : n - i;
      if (c->opcode == 2 && c->pfxlen < 22) {
        size_t want = (size_t)(22 - c->pfxlen), k = want < take ? want : take;
        memcpy(c->pfx + c->pfxlen, p + i, k);
        c->pfxlen += (uint8_t)k;
        if (c->pfxlen == 22 && c->pfx[1] == 1) onPixelsHeader(c);
        else if (c->pfxlen == 22 && c->pfx[1] == 3) onTilePixelsHeader(c);
      } else if (c->opcode >= 8 && c->ctllen + take <= 125) {
        memcpy(c->ctl + c->ctllen, p + i, take);
        c->ctllen += (uint8_t)take;
      }
      if (c->collecting) { memcpy(c->payload + c->collected, p + i, take); c->collected += (uint32_t)take; }
      c->remaining -= take;
      i += take;
      if (c->remaining == 0) endFrame(c);
      continue;
    }
    const uint8_t *h = wsNextHeader(c->hdr, &c->hlen, p, n, &i);
    if (h) beginFrame(c, h);
  }
}

static void onWritable(conn_t *c) {
  char since[64] = "";
  if (c->vw) snprintf(since, sizeof since, "&view=%u,%u,%u,%u", c->vx, c->vy, c->vw, c->vh);
  else if (c->lastSeq >= 0) snprintf(since, sizeof since, "&since=%.0f", c->lastSeq);
  if (wsSendUpgrade(c->fd, c->port, since, cookie) < 0) { lost(c); return; }
  c->state = HANDSHAKE;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void onReadable(conn_t *c) {
  for (;;) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { lost(c); return; }
    if (n < 0) return;
    reads++;
    size_t from = 0;
    if (c->state == HANDSHAKE) {
      /* The upgrade response: check the status line, then skip to the blank line. */
      int scanned = wsUpgradeScan(&c->upgrade, buf, (size_t)n, &from);
      if (scanned < 0) { lost(c); return; }
      if (scanned == 0) continue;
      c->state = OPEN;
      pendingConnects--;
      if (c->downAt) { c->attempt = 0; c->downAt = c->awaiting ? c->downAt : 0; }
      else connectDone++;
    }
    bytes += (size_t)n - from;
    walk(c, buf + from, (size_t)n - from);
    if ((size_t)n < sizeof buf) return;
  }
}

static int listenPort;
static void startConnects(void) {
  while (pendingConnects < IN_FLIGHT && nconns < connectTarget) {
    conn_t *c = &conns[nconns++];
    if (openSocket(c, listenPort) < 0) { failed++; connectDone++; c->state = CLOSED; continue; }
    pendingConnects++;
  }
}

static void retryDue(void) {
  int64_t now = nowMs();
  for (int i = 0; i < nconns && waitingCount > 0; i++) {
    conn_t *c = &conns[i];
    /* No cap on reconnects in flight: real clients do not coordinate; only their backoff + jitter spreads them. */
    if (c->state != WAITING || c->retryAt > now) continue;
    waitingCount--;
    attempts++;
    if (openSocket(c, reconnectPort) < 0) { failedAttempts++; scheduleRetry(c, now); continue; }
    pendingConnects++;
  }
}

static int cmpU32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void report(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (ru.ru_utime.tv_sec - ruAtReset.ru_utime.tv_sec) + (ru.ru_stime.tv_sec - ruAtReset.ru_stime.tv_sec) +
               ((ru.ru_utime.tv_usec - ruAtReset.ru_utime.tv_usec) + (ru.ru_stime.tv_usec - ruAtReset.ru_stime.tv_usec)) / 1e6;
  double user = (ru.ru_utime.tv_sec - ruAtReset.ru_utime.tv_sec) + (ru.ru_utime.tv_usec - ruAtReset.ru_utime.tv_usec) / 1e6;
  uint32_t *per = malloc(sizeof(uint32_t) * (nconns ? nconns : 1));
  int open = 0;
  for (int i = 0; i < nconns; i++) { per[i] = conns[i].frames; open += conns[i].state == OPEN; }
  qsort(per, nconns, sizeof *per, cmpU32);
  printf("{\"cmd\":\"report\",\"frames\":%lu,\"bytes\":%lu,\"reads\":%lu,\"samples\":%lu,\"sampledFrames\":%lu,"
         "\"checkedFrames\":%lu,\"gaps\":%lu,\"closed\":%lu,\"failed\":%lu,\"open\":%d,\"minClientFrames\":%u,"
         "\"medianClientFrames\":%u,\"cpuSeconds\":%.4f,\"userSeconds\":%.4f,\"maxRssKiB\":%ld,\"canvases\":%lu,\"resumed\":%lu,"
         "\"resumeGaps\":%lu,\"attempts\":%lu,\"failedAttempts\":%lu,\"waiting\":%d,\"tileFrames\":%lu,"
         "\"tileSnapshots\":%lu,\"strayTiles\":%lu,\"staleTiles\":%lu,\"histogram\":[",
         frames, bytes, reads, samples, sampledFrames, checkedFrames, gaps, closedByServer, failed, open,
         nconns ? per[0] : 0, nconns ? per[nconns / 2] : 0, cpu, user, ru.ru_maxrss, canvases, resumedCount, resumeGaps,
         attempts, failedAttempts, waitingCount, tileFrames, tileSnapshots, strayTiles, staleTiles);
  free(per);
  int firstOut = 1;
  for (int i = 0; i < HIST; i++) if (hist[i]) { printf("%s[%d,%u]", firstOut ? "" : ",", i, hist[i]); firstOut = 0; }
  printf("],\"resumeHistogram\":[");
  firstOut = 1;
  for (int i = 0; i < HIST; i++) if (resumeHist[i]) { printf("%s[%d,%u]", firstOut ? "" : ",", i, resumeHist[i]); firstOut = 0; }
  printf("],\"closeCodes\":[");
  firstOut = 1;
  for (int i = 0; i < 5000; i++) if (closeCodes[i]) { printf("%s[%d,%u]", firstOut ? "" : ",", i, closeCodes[i]); firstOut = 0; }
  int awaiting = 0;
  for (int i = 0; i < nconns; i++) awaiting += conns[i].awaiting;
  printf("],\"notResumed\":%d,\"lastResumedAt\":%ld}\n", awaiting, lastResumedAt);
  fflush(stdout);
}

static void resetCounters(void) {
  getrusage(RUSAGE_SELF, &ruAtReset);
  memset(hist, 0, sizeof hist);
  memset(resumeHist, 0, sizeof resumeHist);
  frames = bytes = reads = samples = sampledFrames = checkedFrames = gaps = 0;
  canvases = resumedCount = resumeGaps = attempts = failedAttempts = 0;
  tileFrames = tileSnapshots = strayTiles = staleTiles = 0;
  lastResumedAt = 0;
  memset(closeCodes, 0, sizeof closeCodes);
  for (int i = 0; i < nconns; i++) conns[i].frames = 0;
}

/* 0 while a `connect` awaits its "connected" answer (the main loop writes it once every client is through). */
static int replied = 1;
static void onCommand(char *cmd) {
  if (strncmp(cmd, "connect ", 8) == 0) replied = 0;
  int port, count, offset, every, vw = 0, vh = 0, side = 0;
  double since;
  int got = sscanf(cmd, "connect %d %d %lf %d %d %d %d %d", &port, &count, &since, &offset, &every, &vw, &vh, &side);
  if (got == 5 || got == 8) {
    if (got == 5 || vw <= 0 || vh <= 0 || side < vw || side < vh || side > TILE_GRID * 256) vw = vh = 0;
    closedByServer = failed = 0;
    listenPort = port;
    int base = nconns;
    connectTarget = nconns + (count < MAX_CONNS - nconns ? count : MAX_CONNS - nconns);
    for (int i = base; i < connectTarget; i++) {
      memset(&conns[i], 0, sizeof conns[i]);
      conns[i].fd = -1;
      conns[i].lastSeq = since;
      gotClose[i] = 0;
      conns[i].sampled = every > 0 && (offset + i - base) % every == 0;
      if (vw) {
        conns[i].vw = (uint16_t)vw;
        conns[i].vh = (uint16_t)vh;
        conns[i].vx = (uint16_t)(rand() % (side - vw + 1));
        conns[i].vy = (uint16_t)(rand() % (side - vh + 1));
        conns[i].tileSeq = malloc(sizeof(double) * TILE_GRID * TILE_GRID);
        for (int t = 0; t < TILE_GRID * TILE_GRID; t++) conns[i].tileSeq[t] = -1;
      }
    }
    connectDone = base;
    startConnects();
  } else if (sscanf(cmd, "reconnect %d", &port) == 1) {
    reconnectPort = port;
    printf("ok\n");
    fflush(stdout);
  } else if (strcmp(cmd, "clock color") == 0) {
    colorClock = 1;
    printf("ok\n");
    fflush(stdout);
  } else if (strcmp(cmd, "reset") == 0) {
    resetCounters();
    printf("reset\n");
    fflush(stdout);
  } else if (strcmp(cmd, "report") == 0) {
    report();
  } else if (strcmp(cmd, "disconnect") == 0) {
    reconnectPort = 0;
    for (int i = 0; i < nconns; i++) {
      if (conns[i].fd >= 0) close(conns[i].fd);
      free(conns[i].payload);
      conns[i].payload = NULL;
      free(conns[i].tileSeq);
      conns[i].tileSeq = NULL;
      conns[i].fd = -1;
      conns[i].state = CLOSED;
    }
    nconns = connectTarget = connectDone = pendingConnects = waitingCount = 0;
    printf("disconnected\n");
    fflush(stdout);
  } else if (strcmp(cmd, "exit") == 0) {
    exit(0);
  }
}

int main(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max; /* the soft limit up to the hard one (20,000 here) */
  setrlimit(RLIMIT_NOFILE, &rl);
  srand((unsigned)getpid());
  cookie = getenv("FANOUT_COOKIE");
  if (cookie && strlen(cookie) > 300) cookie = NULL;
  epfd = epoll_create1(0);
  struct epoll_event in = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in);
  getrusage(RUSAGE_SELF, &ruAtReset);
  printf("ready\n");
  fflush(stdout);
  struct epoll_event events[512];
  for (;;) {
    int n = epoll_wait(epfd, events, 512, 10);
    for (int k = 0; k < n; k++) {
      conn_t *c = events[k].data.ptr;
      if (c == NULL) {
        readCommands(onCommand);
        continue;
      }
      if (c->fd < 0) continue;
      if (c->state == CONNECTING) {
        if (events[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) onWritable(c);
      } else {
        onReadable(c);
      }
    }
    if (nconns < connectTarget) startConnects();
    if (waitingCount > 0) retryDue();
    if (!replied && connectDone >= connectTarget && pendingConnects == 0) {
      int open = 0;
      for (int i = 0; i < nconns; i++) open += conns[i].state == OPEN;
      printf("connected %d %lu\n", open, failed);
      fflush(stdout);
      replied = 1;
    }
  }
}
