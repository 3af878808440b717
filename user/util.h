/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small helpers every stage may use, each written once. */
#ifndef WEFT_UTIL_H
#define WEFT_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* strdup that aborts when memory is out: the agent cannot go on without. */
char *xstrdup(const char *s);
/* The value of one hex digit of either case, or -1. */
int hex_digit(int c);
/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
uint64_t now_mono_ns(void);
/* v in decimal, written at the end of out[20] (no NUL): returns where the
 * digits start. For writers that build JSON without printf. */
char *u64_dec(uint64_t v, char out[20]);
/* s as a decimal in [min, max], nothing else but trailing blanks when
 * trailing_space; false when it is not. */
bool parse_decimal(const char *s, long min, long max, bool trailing_space,
		   long *out);

#endif /* WEFT_UTIL_H */
