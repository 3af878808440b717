/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is this the first line of an HTTP/1.x message? Eight bytes decide it, read
 * as one little-endian word and compared under masks: no loops, no strings.
 * Userspace re-checks the whole line; this only keeps other protocols out of
 * the ring buffer.
 */
#ifndef WEFT_HTTP_DETECT_BPF_H
#define WEFT_HTTP_DETECT_BPF_H

#define W8(a, b, c, d, e, f, g, h)                                            \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 |              \
	 (__u64)(h) << 56)

#define MASK(n) ((n) >= 8 ? ~0ULL : ((1ULL << ((n) * 8)) - 1))

static __always_inline bool starts(__u64 w, __u64 lit, int n)
{
	return (w & MASK(n)) == (lit & MASK(n));
}

static __noinline bool http_start_word(__u64 w)
{
	switch (w & 0xff) {
	case 'G':
		return starts(w, W8('G', 'E', 'T', ' ', 0, 0, 0, 0), 4);
	case 'P':
		return starts(w, W8('P', 'O', 'S', 'T', ' ', 0, 0, 0), 5) ||
		       starts(w, W8('P', 'U', 'T', ' ', 0, 0, 0, 0), 4) ||
		       starts(w, W8('P', 'A', 'T', 'C', 'H', ' ', 0, 0), 6);
	case 'H':
		return starts(w, W8('H', 'T', 'T', 'P', '/', '1', '.', 0), 7) ||
		       starts(w, W8('H', 'E', 'A', 'D', ' ', 0, 0, 0), 5);
	case 'D':
		return starts(w, W8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0), 7);
	case 'O':
		return starts(w, W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '), 8);
	case 'C':
		return starts(w, W8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '), 8);
	case 'T':
		return starts(w, W8('T', 'R', 'A', 'C', 'E', ' ', 0, 0), 6);
	}
	return false;
}

#endif /* WEFT_HTTP_DETECT_BPF_H */
