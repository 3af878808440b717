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

/* Two digits a step: every span's two 19-digit timestamps go through
 * here, and one digit a step was 3 % of the agent at saturation. */
static const char dec_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

char *u64_dec(uint64_t v, char out[20])
{
	char *p = out + 20;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		p -= 2;
		p[0] = dec_pairs[2 * r];
		p[1] = dec_pairs[2 * r + 1];
	}
	if (v >= 10) {
		p -= 2;
		p[0] = dec_pairs[2 * v];
		p[1] = dec_pairs[2 * v + 1];
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}
