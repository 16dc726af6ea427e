/* Text measured by what a terminal shows: a Chinese character takes two
 * columns and three bytes, a combining accent none. Tables that pad or
 * cut by bytes (printf's %-20s, %.20s) split characters and misalign
 * columns. */
#ifndef RECOUP_TEXTWIDTH_H
#define RECOUP_TEXTWIDTH_H

#include <stddef.h>
#include <stdint.h>

/* The columns one code point takes (c < 0, a byte that does not
 * decode: one). */
int text_char_cols(int32_t c);

/* The columns s takes: East Asian wide and full-width characters two,
 * combining marks, format characters and U+200B none, the rest one (an
 * undecodable byte one). */
int text_cols(const char *s);

/* Copies of src the whole characters that fit in cols columns (and in
 * size bytes, NUL included) to dst; returns the columns copied. */
int text_cut(char *dst, size_t size, const char *src, int cols);

/* text_cut of src made printable first (rc_printable_line: a control,
 * invisible or bidirectional character shown as '?'): a name a script
 * made at run time (a queue, a channel, a template) cut for a table. */
int text_cut_printable(char *dst, size_t size, const char *src, int cols);

/* src in a column of width columns, padded with spaces: on the right for
 * a negative width (text, left-aligned), on the left for a positive one
 * (figures); never cut. Returns dst. */
const char *text_pad(char *dst, size_t size, const char *src, int width);

#endif
