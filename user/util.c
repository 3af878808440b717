// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Small helpers every stage may use: see util.h. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util.h"

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

bool parse_decimal(const char *s, long min, long max, bool trailing_space,
		   long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	while (trailing_space && isspace((unsigned char)*end))
		end++;
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

char *u64_dec(uint64_t v, char out[20])
{
	char *p = out + 20;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}
