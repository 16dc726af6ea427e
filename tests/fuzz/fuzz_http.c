/* The HTTP request path up to routing: parser, limits, route match. */
#include <stdint.h>
#include <string.h>

#include "recoup/http.h"
#include "service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  http_limits limits = {4096, 2048, 1024, 1, 1000, 1000};
  http_request *req = NULL;
  if (http_parse_one((const char *)data, size, &limits, &req) == 0 && req) {
    char arg[512], value[256];
    api_route(req->method, req->path, arg, sizeof arg);
    http_query(req, "limit", value, sizeof value);
    http_query(req, "after", value, sizeof value);
    http_request_free(req);
  }
  return 0;
}
