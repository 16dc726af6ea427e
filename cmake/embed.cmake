# Turns a file into a C array, so that the binary carries its assets (one
# file to deploy):
#   cmake -DIN=docs/openapi.json -DOUT=openapi_doc.c -DNAME=openapi_json -P embed.cmake
# defines `const unsigned char NAME[]` (NUL-terminated) and `NAME_len`.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR bytes "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n"
  "const unsigned char ${NAME}[] = {${body}0x00};\n"
  "const size_t ${NAME}_len = ${bytes};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
