/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The words an HTTP/1.x message starts with: a known method and a space, or
 * "HTTP/1." for a status line. Eight bytes decide it, read as one
 * little-endian word and compared under masks: no loops, no strings. This
 * one function is compiled into the BPF programs (which chunks start a
 * message, bpf/http_detect.bpf.h), into the agent (user/http.c: which
 * methods are known, what looks like a request) and into the unit tests'
 * model of the kernel, so the three cannot disagree.
 *
 * The includer may define WEFT_HTTP_START_FN first: the BPF side makes it
 * a subprogram the verifier checks once.
 */
#ifndef WEFT_HTTP_START_H
#define WEFT_HTTP_START_H

#ifndef __bpf__
#include <stdbool.h>
#include <linux/types.h>
#endif

#ifndef WEFT_HTTP_START_FN
#define WEFT_HTTP_START_FN static inline
#endif

#define WEFT_W8(a, b, c, d, e, f, g, h)                                       \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 |              \
	 (__u64)(h) << 56)

#define WEFT_MASK(n) ((n) >= 8 ? ~0ULL : ((1ULL << ((n) * 8)) - 1))

static inline __attribute__((always_inline)) bool
weft_starts(__u64 w, __u64 lit, int n)
{
	return (w & WEFT_MASK(n)) == (lit & WEFT_MASK(n));
}

/* w: the first 8 bytes, little-endian (byte 0 in the low bits). */
WEFT_HTTP_START_FN bool weft_http_start_word(__u64 w)
{
	switch (w & 0xff) {
	case 'G':
		return weft_starts(w, WEFT_W8('G', 'E', 'T', ' ', 0, 0, 0, 0), 4);
	case 'P':
		return weft_starts(w, WEFT_W8('P', 'O', 'S', 'T', ' ', 0, 0, 0), 5) ||
		       weft_starts(w, WEFT_W8('P', 'U', 'T', ' ', 0, 0, 0, 0), 4) ||
		       weft_starts(w, WEFT_W8('P', 'A', 'T', 'C', 'H', ' ', 0, 0), 6);
	case 'H':
		return weft_starts(w, WEFT_W8('H', 'T', 'T', 'P', '/', '1', '.', 0), 7) ||
		       weft_starts(w, WEFT_W8('H', 'E', 'A', 'D', ' ', 0, 0, 0), 5);
	case 'D':
		return weft_starts(w, WEFT_W8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0), 7);
	case 'O':
		return weft_starts(w, WEFT_W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '), 8);
	case 'C':
		return weft_starts(w, WEFT_W8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '), 8);
	case 'T':
		return weft_starts(w, WEFT_W8('T', 'R', 'A', 'C', 'E', ' ', 0, 0), 6);
	}
	return false;
}

/*
 * The first 8 bytes of the HTTP/2 connection preface (RFC 9113 3.4),
 * "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": a client that speaks h2 with prior
 * knowledge (h2c) or after ALPN (plaintext of TLS) starts with it. Not an
 * HTTP/1 message start: the connection is followed frame by frame instead.
 */
static inline __attribute__((always_inline)) bool weft_h2_preface_word(__u64 w)
{
	return w == WEFT_W8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T');
}

#endif /* WEFT_HTTP_START_H */
