/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* New trace and span ids, and the kernel clock turned into Unix time. */
#ifndef WEFT_IDS_H
#define WEFT_IDS_H

#include <stdint.h>

/* Random, never all-zero (W3C and B3 both reject zero ids). */
void ids_new_trace(uint8_t out[16]);
void ids_new_span(uint8_t out[8]);
/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) to nanoseconds since the epoch. */
uint64_t mono_to_unix_ns(uint64_t mono_ns);

#endif /* WEFT_IDS_H */
