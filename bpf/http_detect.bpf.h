/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is this the first line of an HTTP/1.x message? The rule itself lives in
 * include/http_start.h, shared with the agent and the unit tests; here it
 * becomes a subprogram, verified once instead of at every call site.
 * Userspace re-checks the whole line; this only keeps other protocols out
 * of the ring buffer.
 */
#ifndef WEFT_HTTP_DETECT_BPF_H
#define WEFT_HTTP_DETECT_BPF_H

#include "common.bpf.h"

#define WEFT_HTTP_START_FN static __noinline
#include "http_start.h"


#endif /* WEFT_HTTP_DETECT_BPF_H */
