/*
 * Placer harness of the players benchmark (bench/players.ts, issue 13): K closed-loop placers in one epoll
 * thread, each from its own client address (127.0.0.<10+p>) with one placement in flight, the next sent on the
 * answer, rotating over its own guest sockets so the server's cooldown never makes it wait. The Node placers
 * cost ~50 µs of CPU a placement (JSON, `ws` framing, timers): on the load's shared core that, not the server,
 * set the rate. This one is a write and a read syscall and a few string scans a placement.
 * Built by bench/players.ts with the machine's gcc into bench/.build/ (gitignored); no dependencies.
 *
 *   players-epoll PORT PLACERS IDENTITIES MAX_IDENTITIES SIZE TILE VIEW [VIEWERS TIMING]
 *     IDENTITIES guests a placer opens first; it opens a quarter more (≥ 8) whenever under a tenth of its open
 *     guests may place (MAX_IDENTITIES in all). Pixels land at (p·7919 + n·104729) mod SIZE², never inside the
 *     TILE×TILE tile at the origin, where every guest's view VIEW (`x,y,w,h`, viewport mode) lies.
 *     VIEWERS whole-canvas viewers (from 127.0.1.1–250), opened before the placers; TIMING of them time every
 *     pixel from its placement's send to the arrival of the `pixels` frame holding it (sequence → send time
 *     from the placers' answers, in this process: nothing crosses a pipe per pixel).
 *
 * Line commands on stdin, one line answered on stdout:
 *   status   -> {"identities":N,"opening":N,"sinceGrowthMs":N}
 *   measure  -> "ok": counters reset; from now on each accepted placement's (seq, send time in ms since the
 *               epoch) goes to fd 3 as two little-endian f64 (if fd 3 is open), for delivery timing
 *   report   -> one JSON line: accepted, refused, waited, RTT percentiles, CPU since `measure`
 *   close | exit
 */
#define _GNU_SOURCE
#include <fcntl.h>
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

#define MAX_CONNS 19500
#define MAX_PLACERS 200
#define MAX_TEXT 65536
#define RTT_BUCKETS 200001 /* 10 µs each: up to 2 s, the last = more */
#define DELIVERY_BUCKETS 30001 /* 1 ms each: up to 30 s */
#define RING (1 << 21)         /* send times of the latest accepted sequences, by seq mod RING */

enum { CONNECTING, HANDSHAKE, OPEN, CLOSED };

typedef struct {
  int fd, placer; /* placer -1: a viewer */
  uint8_t state, welcomed, opcode, hlen, timing, pfxlen;
  uint8_t hdr[14], pfx[18];
  ws_upgrade_t upgrade;
  uint32_t textLen;
  uint64_t remaining;
  int64_t readyAt; /* ms since the epoch from which this guest may place */
  char *text;      /* the text frame being read (NULL: not collecting) */
} conn_t;

typedef struct {
  int *guests, nguests, opening;
  int inFlight; /* the guest whose placement awaits its answer, -1 = none */
  char requestId[32];
  double sentMono;
  int64_t sentWall, wakeAt;
  uint64_t n;
} placer_t;

static conn_t conns[MAX_CONNS];
static placer_t placers[MAX_PLACERS];
static int nconns, nplacers, epfd, port, identities, maxIdentities, size, tile;
static const char *view;
static uint8_t buf[256 * 1024];
static uint32_t rttHist[RTT_BUCKETS];
static uint64_t accepted, refused, waited, rttCount, dropped, closedGuests;
static int measuring, identitiesAtMeasure;
static int64_t lastGrowthMono;
static struct rusage ruAtMeasure;
static uint8_t seqOut[64 * 1024];
static size_t seqOutLen;
static int seqFd = -1;
static int nviewers, ntiming;
static struct { double seq; int64_t sentWall; } ring[RING];
static uint32_t deliveryHist[DELIVERY_BUCKETS];
static uint64_t deliverySamples, untimed, viewerCloses, pixelsFrames;

static int64_t wallMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static double monoMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A socket of placer `p`, or a viewer (p < 0; `timing` 1 for a timing one). */
static conn_t *openConn(int p, int timing) {
  if (nconns >= MAX_CONNS) return NULL;
  conn_t *c = &conns[nconns];
  memset(c, 0, sizeof *c);
  c->placer = p;
  c->timing = (uint8_t)timing;
  c->state = CLOSED;
  /* Placer p from 127.0.0.<10+p>, viewers from 127.0.1.1–250. */
  int fd = wsConnect(p >= 0 ? 0x7f00000a + (uint32_t)p : 0x7f000101 + (uint32_t)(nconns % 250), port);
  if (fd < 0) return NULL;
  c->fd = fd;
  c->state = CONNECTING;
  struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)nconns };
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  nconns++;
  return c;
}

static void openGuest(int p) {
  if (nconns - nviewers >= maxIdentities) return;
  conn_t *c = openConn(p, 0);
  if (!c) return;
  placer_t *pl = &placers[p];
  pl->guests[pl->nguests++] = (int)(c - conns);
  pl->opening++;
}

static void grow(int p, int more) {
  for (int i = 0; i < more && nconns - nviewers < maxIdentities && nconns < MAX_CONNS; i++) openGuest(p);
  lastGrowthMono = (int64_t)monoMs();
}

/* The placer's next placement: on its readiest open guest, or a wake-up when none may place yet. */
static void next(int p) {
  placer_t *pl = &placers[p];
  if (pl->inFlight >= 0) return;
  int64_t now = wallMs();
  int best = -1, ready = 0, open = 0;
  for (int i = 0; i < pl->nguests; i++) {
    conn_t *g = &conns[pl->guests[i]];
    if (g->state != OPEN || !g->welcomed) continue;
    open++;
    if (g->readyAt <= now) ready++;
    if (best < 0 || g->readyAt < conns[best].readyAt) best = pl->guests[i];
  }
  if (best < 0) return; /* a welcome wakes it */
  if (pl->opening == 0 && ready * 10 < open) grow(p, open / 4 > 8 ? open / 4 : 8);
  conn_t *g = &conns[best];
  if (g->readyAt > now) {
    if (pl->wakeAt == 0 && measuring) waited++;
    if (pl->wakeAt == 0 || g->readyAt < pl->wakeAt) pl->wakeAt = g->readyAt;
    return;
  }
  pl->wakeAt = 0;
  pl->n++;
  uint64_t i = (uint64_t)p * 7919 + pl->n * 104729;
  uint64_t x = i % (uint64_t)size, y = (i / (uint64_t)size) % (uint64_t)size;
  if (x < (uint64_t)tile && y < (uint64_t)tile) x += (uint64_t)tile; /* never in the placers' own tile */
  snprintf(pl->requestId, sizeof pl->requestId, "p%d-%lu", p, pl->n);
  char msg[128];
  int n = snprintf(msg, sizeof msg, "{\"type\":\"place\",\"x\":%lu,\"y\":%lu,\"color\":%lu,\"requestId\":\"%s\"}", x, y,
                   pl->n % 32, pl->requestId);
  pl->inFlight = best;
  pl->sentMono = monoMs();
  pl->sentWall = now;
  wsSendSmall(g->fd, 0x81, msg, (size_t)n);
}

/* The number after `"key":` in a JSON text, or `fallback`. */
static double numberOf(const char *text, const char *key, double fallback) {
  const char *at = strstr(text, key);
  if (!at) return fallback;
  at += strlen(key);
  char *end;
  double v = strtod(at, &end);
  return end == at ? fallback : v;
}

static void onText(conn_t *c) {
  if (c->placer < 0) return; /* a viewer's welcome */
  c->text[c->textLen] = 0;
  const char *t = c->text;
  placer_t *pl = &placers[c->placer];
  if (strstr(t, "\"type\":\"welcome\"")) {
    if (!c->welcomed) {
      c->welcomed = 1;
      pl->opening--;
    }
    c->readyAt = wallMs() + (int64_t)(numberOf(t, "\"cooldownRemaining\":", 0) * 1000);
    next(c->placer);
    return;
  }
  if (pl->inFlight != c - conns) return;
  const char *rid = strstr(t, "\"requestId\":\"");
  if (!rid) return;
  rid += 13;
  size_t idLen = strlen(pl->requestId);
  if (strncmp(rid, pl->requestId, idLen) != 0 || rid[idLen] != '"') return;
  if (measuring) {
    double us = (monoMs() - pl->sentMono) * 1000;
    int64_t bucket = (int64_t)(us / 10);
    rttHist[bucket < RTT_BUCKETS - 1 ? bucket : RTT_BUCKETS - 1]++;
    rttCount++;
  }
  if (strstr(t, "\"type\":\"success\"")) {
    c->readyAt = (int64_t)numberOf(t, "\"nextPlacement\":", (double)(wallMs() + 1000));
    double seq = numberOf(t, "\"seq\":", 0);
    if (seq > 0) {
      ring[(uint64_t)seq % RING].seq = seq;
      ring[(uint64_t)seq % RING].sentWall = pl->sentWall;
    }
    if (measuring) {
      accepted++;
      if (seqFd >= 0) {
        double record[2] = { seq, (double)pl->sentWall };
        if (seqOutLen + sizeof record > sizeof seqOut) dropped++;
        else {
          memcpy(seqOut + seqOutLen, record, sizeof record);
          seqOutLen += sizeof record;
        }
      }
    }
  } else {
    if (measuring) refused++;
    c->readyAt = wallMs() + (int64_t)(numberOf(t, "\"remainingSeconds\":", 1) * 1000);
  }
  pl->inFlight = -1;
  next(c->placer);
}

static void lost(conn_t *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  if (c->placer < 0) {
    viewerCloses++;
    c->state = CLOSED;
    return;
  }
  placer_t *pl = &placers[c->placer];
  if (!c->welcomed) pl->opening--;
  c->welcomed = 1;
  c->state = CLOSED;
  free(c->text);
  c->text = NULL;
  closedGuests++;
  if (pl->inFlight == c - conns) {
    pl->inFlight = -1;
    next(c->placer);
  }
}

/* A timing viewer's `pixels` frame (proto/frames.ts: type 1, first seq f64 at 2, last at 10) has arrived. */
static void onPixels(conn_t *c) {
  pixelsFrames++;
  if (!c->timing || !measuring) return;
  double first, last;
  memcpy(&first, c->pfx + 2, 8);
  memcpy(&last, c->pfx + 10, 8);
  if (last - first > 100000) return;
  int64_t now = wallMs();
  for (double s = first; s <= last; s++) {
    if (ring[(uint64_t)s % RING].seq != s) { untimed++; continue; }
    int64_t ms = now - ring[(uint64_t)s % RING].sentWall;
    if (ms < 0) ms = 0;
    deliveryHist[ms < DELIVERY_BUCKETS - 1 ? ms : DELIVERY_BUCKETS - 1]++;
    deliverySamples++;
  }
}

static void endFrame(conn_t *c) {
  if (c->opcode == 1 && c->text) onText(c);
  else if (c->opcode == 9) wsSendSmall(c->fd, 0x8a, "", 0);
  free(c->text);
  c->text = NULL;
}

static void beginFrame(conn_t *c, const uint8_t *h) {
  uint64_t len = wsPayloadLength(h);
  c->opcode = h[0] & 15;
  c->remaining = len;
  c->textLen = 0;
  c->pfxlen = 0;
  if (c->opcode == 1 && len < MAX_TEXT) c->text = malloc(len + 1);
  if (len == 0) endFrame(c);
}

/* Frames in p[0…n): text frames collected and read, everything else skipped. */
static void walk(conn_t *c, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n && c->fd >= 0) {
    if (c->remaining > 0) {
      size_t take = c->remaining < n - i ? (size_t)c->remaining : n - i;
      if (c->text) { memcpy(c->text + c->textLen, p + i, take); c->textLen += (uint32_t)take; }
      if (c->placer < 0 && c->opcode == 2 && c->pfxlen < 18) {
        size_t want = (size_t)(18 - c->pfxlen), k = want < take ? want : take;
        memcpy(c->pfx + c->pfxlen, p + i, k);
        c->pfxlen += (uint8_t)k;
        if (c->pfxlen == 18 && c->pfx[1] == 1) onPixels(c);
      }
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
  char query[80] = "";
  if (c->placer >= 0) snprintf(query, sizeof query, "&view=%s", view);
  if (wsSendUpgrade(c->fd, port, query, NULL) < 0) { lost(c); return; }
  c->state = HANDSHAKE;
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(c - conns) };
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void onReadable(conn_t *c) {
  for (;;) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { lost(c); return; }
    if (n < 0) return;
    size_t from = 0;
    if (c->state == HANDSHAKE) {
      int scanned = wsUpgradeScan(&c->upgrade, buf, (size_t)n, &from);
      if (scanned < 0) { lost(c); return; }
      if (scanned == 0) continue;
      c->state = OPEN;
    }
    walk(c, buf + from, (size_t)n - from);
    if (c->fd < 0 || (size_t)n < sizeof buf) return;
  }
}

static void flushSeqs(void) {
  if (seqFd < 0 || seqOutLen == 0) return;
  ssize_t w = write(seqFd, seqOut, seqOutLen);
  if (w <= 0) return; /* the reader is behind: keep them for the next turn (or drop past the buffer) */
  memmove(seqOut, seqOut + w, seqOutLen - (size_t)w);
  seqOutLen -= (size_t)w;
}

static void report(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (ru.ru_utime.tv_sec - ruAtMeasure.ru_utime.tv_sec) + (ru.ru_stime.tv_sec - ruAtMeasure.ru_stime.tv_sec) +
               ((ru.ru_utime.tv_usec - ruAtMeasure.ru_utime.tv_usec) + (ru.ru_stime.tv_usec - ruAtMeasure.ru_stime.tv_usec)) / 1e6;
  double p[2] = { 0, 0 }, want[2] = { 0.5, 0.99 };
  for (int k = 0; k < 2; k++) {
    uint64_t seen = 0, target = (uint64_t)(want[k] * (double)rttCount);
    for (int b = 0; b < RTT_BUCKETS; b++) {
      seen += rttHist[b];
      if (seen > target) { p[k] = (b + 0.5) / 100.0; break; }
    }
  }
  double d[2] = { -1, -1 };
  for (int k = 0; k < 2; k++) {
    uint64_t seen = 0, target = (uint64_t)(want[k] * (double)deliverySamples);
    for (int b = 0; b < DELIVERY_BUCKETS && deliverySamples > 0; b++) {
      seen += deliveryHist[b];
      if (seen > target) { d[k] = b + 0.5; break; }
    }
  }
  int viewersOpen = 0;
  for (int i = 0; i < nconns; i++) viewersOpen += conns[i].placer < 0 && conns[i].state == OPEN;
  printf("{\"deliveryP50Ms\":%.1f,\"deliveryP99Ms\":%.1f,\"deliverySamples\":%lu,\"untimed\":%lu,"
         "\"viewersOpen\":%d,\"viewerCloses\":%lu,\"pixelsFrames\":%lu,",
         d[0], d[1], deliverySamples, untimed, viewersOpen, viewerCloses, pixelsFrames);
  printf("\"accepted\":%lu,\"refused\":%lu,\"waited\":%lu,\"rttP50Ms\":%.3f,\"rttP99Ms\":%.3f,\"identities\":%d,"
         "\"openedWhileMeasuring\":%d,\"closedGuests\":%lu,\"droppedSeqs\":%lu,\"cpuSeconds\":%.4f}\n",
         accepted, refused, waited, p[0], p[1], nconns - nviewers, nconns - identitiesAtMeasure, closedGuests, dropped, cpu);
  fflush(stdout);
}

static void onCommand(char *cmd) {
  if (strcmp(cmd, "status") == 0) {
    int opening = 0;
    for (int p = 0; p < nplacers; p++) opening += placers[p].opening;
    printf("{\"identities\":%d,\"opening\":%d,\"sinceGrowthMs\":%ld}\n", nconns - nviewers, opening,
           (int64_t)monoMs() - lastGrowthMono);
  } else if (strcmp(cmd, "measure") == 0) {
    accepted = refused = waited = rttCount = dropped = closedGuests = 0;
    deliverySamples = untimed = viewerCloses = pixelsFrames = 0;
    memset(rttHist, 0, sizeof rttHist);
    memset(deliveryHist, 0, sizeof deliveryHist);
    identitiesAtMeasure = nconns;
    getrusage(RUSAGE_SELF, &ruAtMeasure);
    measuring = 1;
    printf("ok\n");
  } else if (strcmp(cmd, "report") == 0) {
    measuring = 0;
    report();
  } else if (strcmp(cmd, "close") == 0) {
    measuring = 0;
    for (int i = 0; i < nconns; i++)
      if (conns[i].fd >= 0) { close(conns[i].fd); conns[i].fd = -1; conns[i].state = CLOSED; }
    printf("closed\n");
  } else if (strcmp(cmd, "exit") == 0) {
    exit(0);
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 8 && argc != 10) {
    fprintf(stderr, "usage: %s PORT PLACERS IDENTITIES MAX_IDENTITIES SIZE TILE VIEW [VIEWERS TIMING]\n", argv[0]);
    return 2;
  }
  port = atoi(argv[1]);
  nplacers = atoi(argv[2]);
  identities = atoi(argv[3]);
  maxIdentities = atoi(argv[4]);
  size = atoi(argv[5]);
  tile = atoi(argv[6]);
  view = argv[7];
  nviewers = argc == 10 ? atoi(argv[8]) : 0;
  ntiming = argc == 10 ? atoi(argv[9]) : 0;
  if (nviewers < 0 || nviewers > MAX_CONNS / 2) nviewers = 0;
  if (nplacers < 1 || nplacers > MAX_PLACERS || identities < 1 || size < 2 * tile || strlen(view) > 64) {
    fprintf(stderr, "players-epoll: bad arguments\n");
    return 2;
  }
  if (maxIdentities > MAX_CONNS) maxIdentities = MAX_CONNS;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (fcntl(3, F_GETFD) >= 0) {
    seqFd = 3;
    fcntl(seqFd, F_SETFL, fcntl(seqFd, F_GETFL) | O_NONBLOCK);
  }
  epfd = epoll_create1(0);
  struct epoll_event in = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in);
  for (int p = 0; p < nplacers; p++) {
    placers[p].guests = malloc(sizeof(int) * MAX_CONNS);
    placers[p].inFlight = -1;
  }
  for (int v = 0; v < nviewers; v++) openConn(-1, v < ntiming);
  for (int p = 0; p < nplacers; p++) grow(p, identities);
  printf("ready\n");
  fflush(stdout);
  struct epoll_event events[512];
  for (;;) {
    /* Sleep until the earliest placer wake-up (at most 10 ms: commands and new guests). */
    int64_t now = wallMs(), timeout = 10;
    for (int p = 0; p < nplacers; p++)
      if (placers[p].wakeAt && placers[p].wakeAt - now < timeout) timeout = placers[p].wakeAt - now;
    int n = epoll_wait(epfd, events, 512, timeout < 0 ? 0 : (int)timeout);
    for (int k = 0; k < n; k++) {
      uint32_t id = events[k].data.u32;
      if (id == UINT32_MAX) {
        readCommands(onCommand);
        continue;
      }
      conn_t *c = &conns[id];
      if (c->fd < 0) continue;
      if (c->state == CONNECTING) onWritable(c);
      else onReadable(c);
    }
    now = wallMs();
    for (int p = 0; p < nplacers; p++)
      if (placers[p].wakeAt && placers[p].wakeAt <= now) {
        placers[p].wakeAt = 0;
        next(p);
      }
    flushSeqs();
  }
}
