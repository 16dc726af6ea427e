/* Who the client is when a reverse proxy stands in front: the address
 * blocks of service.trusted_proxies, and the client address and scheme
 * a request carries through them (X-Forwarded-For, X-Forwarded-Proto). */
#ifndef RECOUP_PROXY_H
#define RECOUP_PROXY_H

#include <stddef.h>

#include "recoup/script.h"

/* "10.0.0.0/8", "::1", "127.0.0.1", "fd00::/8": 0, or -1 for anything
 * else (a prefix too long, host bits set past the prefix, a name). */
int proxy_net_parse(const char *text, rc_net *out);
/* An address without a prefix, as 16 bytes (IPv4 mapped): 0 or -1. */
int proxy_addr_parse(const char *text, unsigned char out[16]);
/* Whether addr is in one of the n blocks. */
int proxy_trusted(const rc_net *nets, int n, const unsigned char addr[16]);

/* The client a request comes from: the peer itself, unless the peer is a
 * trusted proxy; then the right-most X-Forwarded-For hop that is not a
 * trusted proxy (every hop left of it could be made up by the client).
 * *tls is 1 only when a trusted proxy says X-Forwarded-Proto: https.
 * client gets the address as text, normalised ("" when unknown). */
void proxy_client(const rc_net *nets, int n, const char *peer,
                  const char *forwarded_for, const char *forwarded_proto,
                  char *client, size_t size, int *tls);

#endif
