// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ids come from xoshiro256** seeded by getrandom(): ids need to be unique,
 * not secret, and a syscall per span would cost more than the span.
 */
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "util.h"
#include "ids.h"

static uint64_t st[4];
static bool seeded;

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next(void)
{
	uint64_t r, t;

	if (!seeded) {
		if (getrandom(st, sizeof(st), 0) != sizeof(st)) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			st[0] = ts.tv_nsec ^ 0x9e3779b97f4a7c15ULL;
			st[1] = ts.tv_sec;
			st[2] = (uint64_t)&ts;
			st[3] = 0x2545f4914f6cdd1dULL;
		}
		seeded = true;
	}
	r = rotl(st[1] * 5, 7) * 9;
	t = st[1] << 17;
	st[2] ^= st[0];
	st[3] ^= st[1];
	st[1] ^= st[2];
	st[0] ^= st[3];
	st[2] ^= t;
	st[3] = rotl(st[3], 45);
	return r;
}

void ids_new_trace(uint8_t out[16])
{
	uint64_t a, b;

	do {
		a = next();
		b = next();
	} while (!a && !b);
	memcpy(out, &a, 8);
	memcpy(out + 8, &b, 8);
}

void ids_new_span(uint8_t out[8])
{
	uint64_t a;

	do
		a = next();
	while (!a);
	memcpy(out, &a, 8);
}

/* The wall-minus-monotonic offset is re-read at most once a second: spans
 * converted within that second keep their monotonic order exactly (reading
 * two clocks per span jitters by tens of ns), and NTP steps still reach us. */
uint64_t mono_to_unix_ns(uint64_t mono_ns)
{
	static int64_t off;
	static uint64_t off_at;
	struct timespec rt, mo;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &mo);
	now = (uint64_t)mo.tv_sec * 1000000000ULL + mo.tv_nsec;
	if (!off_at || now - off_at >= 1000000000ULL) {
		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &mo);
		off = ((int64_t)rt.tv_sec - mo.tv_sec) * 1000000000LL +
		      (rt.tv_nsec - mo.tv_nsec);
		off_at = now;
	}
	return mono_ns + off;
}
