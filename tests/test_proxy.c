/* Trusted proxies (runtime/proxy.c): the blocks service.trusted_proxies
 * takes, and the client address and scheme a request carries through
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "proxy.h"

static void test_blocks_parse_strictly(void **state) {
  static const char *const good[] = {"127.0.0.1",     "10.0.0.0/8", "::1",
                                     "fd00::/8",      "0.0.0.0/0",  "::/0",
                                     "192.168.1.0/24"};
  static const char *const bad[] = {
      "",          "10.0.0.1/8",  "10.0.0.0/33", "::1/129",
      "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "proxy.example",
      "10.0.0",    "1.2.3.4:80",  "10.0.0.0/8x", "fd00::1/8"};
  rc_net n;
  (void)state;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (proxy_net_parse(good[i], &n) != 0) fail_msg("refused %s", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (proxy_net_parse(bad[i], &n) == 0) fail_msg("took %s", bad[i]);
  assert_int_equal(proxy_net_parse("10.0.0.0/8", &n), 0);
  assert_int_equal(n.bits, 104); /* 96 of the mapping and 8 */
}

typedef struct client {
  char addr[64];
  int tls;
} client;

static client through(const char *peer, const char *xff, const char *xfp) {
  rc_net nets[3];
  client c;
  proxy_net_parse("127.0.0.1", &nets[0]);
  proxy_net_parse("10.0.0.0/8", &nets[1]);
  proxy_net_parse("::1", &nets[2]);
  proxy_client(nets, 3, peer, xff, xfp, c.addr, sizeof c.addr, &c.tls);
  return c;
}

static void test_only_a_trusted_peer_is_believed(void **state) {
  client c;
  (void)state;
  c = through("127.0.0.1", "203.0.113.7", "https");
  assert_string_equal(c.addr, "203.0.113.7");
  assert_true(c.tls);
  c = through("192.0.2.9", "203.0.113.7", "https");
  assert_string_equal(c.addr, "192.0.2.9");
  assert_false(c.tls);
  c = through("::ffff:127.0.0.1", "203.0.113.7", "HTTPS");
  assert_string_equal(c.addr, "203.0.113.7");
  assert_true(c.tls);
  c = through("::1", NULL, "http");
  assert_string_equal(c.addr, "::1");
  assert_false(c.tls);
  c = through("127.0.0.1", NULL, "https, http");
  assert_false(c.tls);
}

static void test_the_right_most_untrusted_hop_is_the_client(void **state) {
  client c;
  (void)state;
  /* the client made up the first hop; our proxies added the rest */
  c = through("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3", NULL);
  assert_string_equal(c.addr, "203.0.113.7");
  c = through("127.0.0.1", "10.1.2.3 ,10.9.9.9", NULL);
  assert_string_equal(c.addr, "10.1.2.3");
  c = through("127.0.0.1", "2001:db8::1", NULL);
  assert_string_equal(c.addr, "2001:db8::1");
  /* a hop that is no address ends the walk at the last one believed */
  c = through("127.0.0.1", "203.0.113.7, unknown", NULL);
  assert_string_equal(c.addr, "127.0.0.1");
  c = through("127.0.0.1", "203.0.113.7, 10.0.0.5:443", NULL);
  assert_string_equal(c.addr, "127.0.0.1");
  c = through("127.0.0.1", "", NULL);
  assert_string_equal(c.addr, "127.0.0.1");
  c = through("127.0.0.1", ",,", NULL);
  assert_string_equal(c.addr, "127.0.0.1");
  c = through("", "203.0.113.7", "https");
  assert_string_equal(c.addr, "");
  assert_false(c.tls);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocks_parse_strictly),
      cmocka_unit_test(test_only_a_trusted_peer_is_believed),
      cmocka_unit_test(test_the_right_most_untrusted_hop_is_the_client),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
