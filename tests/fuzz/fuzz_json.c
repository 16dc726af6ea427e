/* JSON bodies as the service reads them (strict: duplicate keys, numbers
 * beyond 64 bits, NUL), then the case shape every route that opens cases
 * takes. */
#include <stdint.h>

#include <jansson.h>

#include "case_input.h"
#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static rc_clock *clk;
  json_t *j;
  rc_error err;
  if (!clk) clk = clock_new("Asia/Shanghai", &err);
  input_json_load((const char *)data, size, 1, &j, &err);
  if (j) {
    case_input in;
    case_input_parse(j, 0, clk, "CNY", &in, &err);
    case_input_free(&in);
    case_input_parse(j, 1, clk, "CNY", &in, &err);
    case_input_free(&in);
    json_decref(j);
  }
  return 0;
}
