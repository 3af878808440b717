// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ill-formed UTF-8 made well-formed: see utf8.h. */
#include <stdint.h>
#include <string.h>
#include "utf8.h"

/*
 * The sequence at p[0..n) (n >= 1, p[0] >= 0x80): its length when it is
 * well-formed (2 to 4, Unicode table 3-7), else minus the length of its
 * maximal subpart, the longest prefix that could still have begun a
 * well-formed sequence (at least 1).
 */
int utf8_seq_len(const uint8_t *p, size_t n)
{
	unsigned lo = 0x80, hi = 0xbf;
	int need;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 1;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* no overlong forms */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		if (p[0] == 0xf0)
			lo = 0x90;	/* no overlong forms */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* nothing past U+10FFFF */
	} else {
		return -1;		/* 80..C1, F5..FF: never a first byte */
	}
	for (int i = 1; i <= need; i++) {
		if ((size_t)i >= n || p[i] < lo || p[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

bool utf8_valid(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < n) {
		int k;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_seq_len(p + i, n - i);
		if (k < 0)
			return false;
		i += k;
	}
	return true;
}

size_t utf8_repair(char *dst, size_t size, const char *src, size_t n)
{
	static const char fffd[3] = { '\xef', '\xbf', '\xbd' };
	const uint8_t *p = (const uint8_t *)src;
	size_t i = 0, o = 0;

	while (i < n) {
		const char *put = src + i;
		size_t len = 1;
		int k;

		if (p[i] >= 0x80) {
			k = utf8_seq_len(p + i, n - i);
			if (k > 0) {
				len = k;
			} else {
				put = fffd;
				len = 3;
				k = -k;
			}
		} else {
			k = 1;
		}
		if (o + len > size - 1)
			break;		/* a whole character or nothing */
		memcpy(dst + o, put, len);
		o += len;
		i += k;
	}
	dst[o] = '\0';
	return o;
}
