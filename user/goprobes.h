/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Attach the Go linking uprobes (bpf/go_link.bpf.h) to every Go binary
 * that runs on the node: once per executable file, found at start-up (the
 * agent's /proc scan) and later from exec events and first-seen pids.
 */
#ifndef WEFT_GOPROBES_H
#define WEFT_GOPROBES_H

#include <stdbool.h>
#include <stdint.h>
#include "loader.h"

int goprobes_init(struct loader *l, bool verbose);
/* Look at pid's executable; attach when it is a new Go binary. Returns
 * true when the process is Go. Cached per pid. */
bool goprobes_consider(uint32_t pid);
bool goprobes_is_go(uint32_t pid);
void goprobes_forget(uint32_t pid);
/* pid's Go binary calls out from goroutines we cannot place: follow
 * goroutine creation from now on (attached once per binary). */
void goprobes_want_fanout(uint32_t pid);
/* pid has an HTTP/2 connection weft took up from the middle whose header
 * blocks name table entries from before: read its Go servers' decoded
 * fields from now on (go_h2_fields). Once per binary. */
void goprobes_want_h2_fields(uint32_t pid);
uint64_t goprobes_h2_fields_probed(void);
/* The goroutine that started goroutine g of pid, 0 when unknown. */
uint64_t goprobes_g_parent(uint32_t pid, uint64_t g);
void goprobes_stats(uint64_t *binaries, uint64_t *attached, uint64_t *stripped);
/* Binaries whose crypto/tls is probed, and those with crypto/tls whose
 * probe sites could not be found (named on stderr). */
void goprobes_tls_stats(uint64_t *probed, uint64_t *refused);
/* HTTP/2 servers whose stream handlers are probed, and those refused (a
 * release weft's table does not cover, a function missing; named on
 * stderr). */
void goprobes_h2_stats(uint64_t *probed, uint64_t *refused);
/* Take the probes off binaries no process runs any more (one stat of
 * /proc/PID/exe per process; the detaching waits in a thread of its own).
 * A later exec of the same file attaches afresh. */
void goprobes_sweep(void);
/* Go binaries whose probes goprobes_sweep took off. */
uint64_t goprobes_detached(void);
void goprobes_free(void);

#endif /* WEFT_GOPROBES_H */
