/* Trusted proxies. A header is only as true as whoever wrote it: the
 * client writes X-Forwarded-For as it likes, and each proxy appends the
 * address it saw. So the list is read from the right, past the hops we
 * trust, and the first hop we do not trust is the client; from a peer we
 * do not trust, the headers are not read at all. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

int proxy_addr_parse(const char *text, unsigned char out[16]) {
  struct in_addr v4;
  memset(out, 0, 16);
  if (inet_pton(AF_INET, text, &v4) == 1) {
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &v4, 4);
    return 0;
  }
  return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

static int is_mapped(const unsigned char a[16]) {
  static const unsigned char prefix[12] = {0, 0, 0, 0, 0,    0,
                                           0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, prefix, 12) == 0;
}

/* Whether a and b agree on their first bits. */
static int same_prefix(const unsigned char a[16], const unsigned char b[16],
                       int bits) {
  int whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, (size_t)whole) != 0) return 0;
  if (rest == 0) return 1;
  return ((a[whole] ^ b[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

int proxy_net_parse(const char *text, rc_net *out) {
  char addr[64];
  const char *slash = strchr(text, '/');
  size_t len = slash ? (size_t)(slash - text) : strlen(text);
  int max;
  memset(out, 0, sizeof *out);
  if (len == 0 || len >= sizeof addr) return -1;
  memcpy(addr, text, len);
  addr[len] = '\0';
  if (proxy_addr_parse(addr, out->addr) != 0) return -1;
  /* An IPv4 block counts its bits after the 96 of the mapping. */
  max = strchr(addr, ':') ? 128 : 32;
  out->bits = max;
  if (slash) {
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (!slash[1] || *end || slash[1] == '+' || slash[1] == '-' || bits < 0 ||
        bits > max)
      return -1;
    out->bits = (int)bits;
  }
  if (max == 32) out->bits += 96;
  /* "10.0.0.1/8" is a slip (meant 10.0.0.0/8, or one host?): refused,
   * not guessed. */
  {
    unsigned char masked[16];
    memcpy(masked, out->addr, 16);
    for (int i = 0; i < 128; i++)
      if (i >= out->bits) masked[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
    if (memcmp(masked, out->addr, 16) != 0) return -1;
  }
  return 0;
}

int proxy_trusted(const rc_net *nets, int n, const unsigned char addr[16]) {
  for (int i = 0; i < n; i++)
    if (same_prefix(nets[i].addr, addr, nets[i].bits)) return 1;
  return 0;
}

static void addr_text(const unsigned char a[16], char *out, size_t size) {
  char buf[INET6_ADDRSTRLEN];
  if (is_mapped(a))
    inet_ntop(AF_INET, a + 12, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, a, buf, sizeof buf);
  snprintf(out, size, "%s", buf);
}

/* The value without surrounding blanks equals want, ignoring case. */
static int token_is(const char *v, size_t n, const char *want) {
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  return n == strlen(want) && strncasecmp(v, want, n) == 0;
}

void proxy_client(const rc_net *nets, int n, const char *peer,
                  const char *forwarded_for, const char *forwarded_proto,
                  char *client, size_t size, int *tls) {
  unsigned char at[16];
  const char *end;
  *tls = 0;
  client[0] = '\0';
  if (!peer || proxy_addr_parse(peer, at) != 0) return;
  addr_text(at, client, size);
  if (!proxy_trusted(nets, n, at)) return;
  /* One proxy, one scheme: "https" exactly. A list ("https, http") says
   * proxies disagree, and plain HTTP is the safe reading. */
  if (forwarded_proto)
    *tls = token_is(forwarded_proto, strlen(forwarded_proto), "https");
  if (!forwarded_for) return;
  end = forwarded_for + strlen(forwarded_for);
  while (end > forwarded_for) {
    const char *start = end;
    char hop[64];
    size_t len;
    unsigned char a[16];
    while (start > forwarded_for && start[-1] != ',') start--;
    while (start < end && (*start == ' ' || *start == '\t')) start++;
    len = (size_t)(end - start);
    while (len && (start[len - 1] == ' ' || start[len - 1] == '\t')) len--;
    /* A hop that is no address (a port, a name, "unknown") ends the
     * walk: the last address believed stands. */
    if (len == 0 || len >= sizeof hop) return;
    memcpy(hop, start, len);
    hop[len] = '\0';
    if (proxy_addr_parse(hop, a) != 0) return;
    addr_text(a, client, size);
    if (!proxy_trusted(nets, n, a)) return;
    end = start;
    while (end > forwarded_for && end[-1] != ',') end--;
    if (end > forwarded_for) end--; /* past the comma */
  }
}
