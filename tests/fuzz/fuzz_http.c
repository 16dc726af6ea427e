/* The HTTP request path up to routing: parser, header rules, limits,
 * route match, URL and query decoding. */
#include <stdint.h>
#include <string.h>

#include "recoup/http.h"
#include "service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  http_limits limits = {.body_limit = 4096,
                        .header_limit = 2048,
                        .url_limit = 1024,
                        .max_connections = 1,
                        .max_per_address = 1,
                        .idle_timeout_ms = 1000,
                        .header_timeout_ms = 1000,
                        .request_timeout_ms = 1000};
  http_request *req = NULL;
  if (http_parse_one((const char *)data, size, &limits, &req) == 0 && req) {
    char arg[512], value[256], name[64];
    if (api_route(req->method, req->path, arg, sizeof arg) >= 0)
      http_unescape(arg, strlen(arg), 0, value, sizeof value);
    http_query_check(req, name, sizeof name);
    http_query(req, "limit", value, sizeof value);
    http_query(req, "after", value, sizeof value);
    http_request_free(req);
  }
  return 0;
}
