/*
 * What the C harnesses share (bench/_fanout-epoll.c, bench/_players-epoll.c): the WebSocket client pieces (a
 * non-blocking loopback connect from a chosen source address, the upgrade request and the response's scan,
 * frame headers found in a socket read or assembled across reads, small masked client frames) and the line
 * commands they read on stdin. Header-only: each harness is one translation unit, built by
 * bench/_fanout-harness.ts (`buildC`).
 */
#ifndef RPLACE_HARNESS_H
#define RPLACE_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* A non-blocking TCP connect to 127.0.0.1:port from `source` (host order, port chosen at connect): the fd, or -1. */
static int wsConnect(uint32_t source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* Many clients per source address: the port is picked at connect, per destination, not at bind. */
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0 };
  src.sin_addr.s_addr = htonl(source);
  bind(fd, (struct sockaddr *)&src, sizeof src);
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  dst.sin_addr.s_addr = htonl(0x7f000001);
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

/*
 * Once a connect from wsConnect reports writable: checks it succeeded and writes the upgrade request for
 * `/ws?v=1<query>` with `cookie` (NULL: none). 0, or -1 when the connect failed or the request was not written.
 */
static int wsSendUpgrade(int fd, int port, const char *query, const char *cookie) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return -1;
  char request[768];
  int n = snprintf(request, sizeof request,
                   "GET /ws?v=1%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "%s%s%sSec-WebSocket-Key: cnBsYWNlLWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   query, port, cookie ? "Cookie: " : "", cookie ? cookie : "", cookie ? "\r\n" : "");
  if (n <= 0 || (size_t)n >= sizeof request) return -1;
  return write(fd, request, (size_t)n) == n ? 0 : -1;
}

/* Where a client stands in the server's upgrade response. */
typedef struct {
  uint32_t crlf; /* bytes of "\r\n\r\n" matched */
  uint32_t read; /* bytes of the response read */
} ws_upgrade_t;

/*
 * Scans buf[*from, n) of the upgrade response: 1 when it ended (*from at the first frame byte), 0 when it
 * goes on in the next read, -1 when it is not a `101` or passes 8 KiB.
 */
static int wsUpgradeScan(ws_upgrade_t *u, const uint8_t *buf, size_t n, size_t *from) {
  for (; *from < n && u->crlf < 4; (*from)++, u->read++) {
    if (u->read < 12 && buf[*from] != (uint8_t)"HTTP/1.1 101"[u->read]) return -1;
    uint8_t want = (u->crlf & 1) ? '\n' : '\r';
    u->crlf = buf[*from] == want ? u->crlf + 1 : (buf[*from] == '\r' ? 1 : 0);
  }
  if (u->crlf == 4) return 1;
  return u->read > 8192 ? -1 : 0;
}

/* The size of a frame header from its second byte. */
static int wsHeaderSize(uint8_t b1) {
  int l = b1 & 127;
  return 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

/* The payload length of a complete header. */
static uint64_t wsPayloadLength(const uint8_t *h) {
  uint64_t len = h[1] & 127;
  if (len == 126) len = ((uint64_t)h[2] << 8) | h[3];
  else if (len == 127) { len = 0; for (int i = 2; i < 10; i++) len = (len << 8) | h[i]; }
  return len;
}

/*
 * At a frame boundary in p[*i, n): the next complete header and *i past it, either in p itself or assembled in
 * `hdr` (`*hlen` bytes so far) from the ends of consecutive reads; NULL when it continues in the next read.
 */
static const uint8_t *wsNextHeader(uint8_t hdr[14], uint8_t *hlen, const uint8_t *p, size_t n, size_t *i) {
  if (*hlen == 0 && n - *i >= 2 && n - *i >= (size_t)wsHeaderSize(p[*i + 1])) {
    const uint8_t *h = p + *i;
    *i += (size_t)wsHeaderSize(h[1]);
    return h;
  }
  while (*i < n) {
    hdr[(*hlen)++] = p[(*i)++];
    if (*hlen >= 2 && *hlen == wsHeaderSize(hdr[1])) {
      *hlen = 0;
      return hdr;
    }
  }
  return NULL;
}

/* A client frame of at most 125 bytes, masked with key 0 (the payload goes unchanged); a dead socket shows up as a read error next. */
static void wsSendSmall(int fd, uint8_t b0, const void *payload, size_t n) {
  uint8_t out[6 + 125];
  if (n > 125) return;
  out[0] = b0;
  out[1] = 0x80 | (uint8_t)n;
  memset(out + 2, 0, 4);
  memcpy(out + 6, payload, n);
  if (write(fd, out, 6 + n) < 0) { /* see above */ }
}

/*
 * Reads what stdin has (call it when epoll says fd 0 is readable) and hands each whole line to `onCommand`,
 * without its newline. End of input exits: the bench died, do not linger with thousands of sockets.
 */
static void readCommands(void (*onCommand)(char *line)) {
  static char line[512];
  static size_t lineLen;
  ssize_t r = read(0, line + lineLen, sizeof line - 1 - lineLen);
  if (r <= 0) exit(0);
  lineLen += (size_t)r;
  char *nl;
  while ((nl = memchr(line, '\n', lineLen)) != NULL) {
    *nl = 0;
    onCommand(line);
    size_t used = (size_t)(nl - line) + 1;
    memmove(line, line + used, lineLen - used);
    lineLen -= used;
  }
  if (lineLen == sizeof line - 1) lineLen = 0; /* a line longer than any command: dropped */
}

#endif
