/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * UTF-8 for span strings. Bytes from the wire (request targets, Host,
 * User-Agent, tracestate) may be anything but NUL; OTLP string fields must
 * be valid UTF-8, and a collector may refuse a whole batch for one bad
 * string. Ill-formed sequences become U+FFFD, one per maximal subpart
 * (Unicode 3.9, "U+FFFD Substitution of Maximal Subparts"), as Python's and
 * Go's decoders do, so a reader sees the same text weft exported.
 */
#ifndef WEFT_UTF8_H
#define WEFT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room that utf8_repair may need for n input bytes, NUL included: each
 * byte may become the three of U+FFFD. */
#define UTF8_REPAIR_SIZE(n)	(3 * (n) + 1)

/*
 * The sequence at p[0..n) (n >= 1, p[0] >= 0x80): its length when it is
 * well-formed (2 to 4, Unicode table 3-7), else minus the length of its
 * maximal subpart (at least 1), which becomes one U+FFFD.
 */
int utf8_seq_len(const uint8_t *p, size_t n);

/* The first n bytes of s are well-formed UTF-8 (NUL counts as one). */
bool utf8_valid(const char *s, size_t n);

/*
 * dst = the n bytes at src with each ill-formed sequence replaced by
 * U+FFFD, NUL-terminated and cut to fit size (>= 1) at a character
 * boundary, never inside one. Returns the length written.
 */
size_t utf8_repair(char *dst, size_t size, const char *src, size_t n);

#endif /* WEFT_UTF8_H */
