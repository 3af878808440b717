/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by weft's libFuzzer targets (tests/fuzz/fuzz_*.c, docs/fuzzing.md):
 * an invariant check that aborts (libFuzzer saves the input as a crash), and
 * a reader that takes a fuzz input apart into small integers and byte runs.
 * Every target copies what it hands to the code under test into a heap
 * buffer of exactly the right size, so ASan sees a read one byte too far.
 */
#ifndef WEFT_FUZZ_H
#define WEFT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant beyond "no crash": abort with the expression. */
#define FUZZ_ASSERT(cond)                                                     \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",      \
				__FILE__, __LINE__, #cond);                   \
			abort();                                              \
		}                                                             \
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_empty(const struct fuzz_in *in)
{
	return in->n == 0;
}

/* One byte, 0 when the input is used up. */
static inline uint8_t fz_u8(struct fuzz_in *in)
{
	uint8_t v;

	if (!in->n)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static inline uint16_t fz_u16(struct fuzz_in *in)
{
	uint16_t v = fz_u8(in);

	return (uint16_t)(v | fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fuzz_in *in)
{
	uint32_t v = fz_u16(in);

	return v | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fuzz_in *in)
{
	uint64_t v = fz_u32(in);

	return v | (uint64_t)fz_u32(in) << 32;
}

/* Up to want bytes (fewer when the input runs out): *len says how many. */
static inline const uint8_t *fz_bytes(struct fuzz_in *in, size_t want, size_t *len)
{
	const uint8_t *p = in->p;

	if (want > in->n)
		want = in->n;
	in->p += want;
	in->n -= want;
	*len = want;
	return p;
}

/* The bytes up to the next sep (not included, sep consumed) or the end. */
static inline const uint8_t *fz_until(struct fuzz_in *in, uint8_t sep, size_t *len)
{
	const uint8_t *p = in->p, *e = memchr(in->p, sep, in->n);
	size_t n = e ? (size_t)(e - p) : in->n;

	in->p += n;
	in->n -= n;
	if (e) {
		in->p++;
		in->n--;
	}
	*len = n;
	return p;
}

/* A malloc'd NUL-terminated copy of n bytes (which may hold NULs: a C
 * string reader then sees only the first part, as it would in weft). */
static inline char *fz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* A malloc'd copy of exactly n bytes (one byte for n = 0, so it is never
 * NULL); reads past n are heap overflows ASan reports. */
static inline uint8_t *fz_memdup(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);

	if (!b)
		abort();
	if (n)
		memcpy(b, p, n);
	return b;
}

/* Is s[0..n) well-formed UTF-8 (Unicode 3.9, table 3-7)? */
static inline bool fz_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		int len;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (int k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += len;
	}
	return true;
}

#endif /* WEFT_FUZZ_H */
