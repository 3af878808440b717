/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Open, configure, load and attach the BPF side; read its counters. */
#ifndef WEFT_LOADER_H
#define WEFT_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "weft.h"

enum hook_mode {
	HOOKS_AUTO,	/* sock tracepoints when the kernel has them */
	HOOKS_SOCK,	/* sock:sock_{send,recv}_length */
	HOOKS_SYSCALLS,	/* raw sys_enter/sys_exit fallback */
};

#define LOADER_MAX_PIDS		1024
#define LOADER_MAX_PORTS	256

struct loader_opts {
	enum hook_mode hooks;
	uint32_t hdr_window;
	uint32_t body_capture;
	uint32_t ringbuf_mb;
	uint32_t max_conns;	/* entries of the conns LRU (0: WEFT_MAX_CONNS) */
	uint32_t pids[LOADER_MAX_PIDS];
	int n_pids;
	uint16_t ports[LOADER_MAX_PORTS];
	int n_ports;
	uint32_t netns_inum;	/* 0 = every network namespace */
	char comms[64][16];	/* --comm, when the kernel filters it (procfilter.c) */
	int n_comms;
	bool verbose;
};

struct weft_bpf;

struct loader {
	struct weft_bpf *skel;
	enum hook_mode hooks;	/* what was attached */
	int ncpus;
};

/* Prints one line saying what to do on failure; returns 0 or -errno. */
int loader_start(struct loader *l, const struct loader_opts *o);
void loader_stop(struct loader *l);
int loader_ringbuf_fd(struct loader *l);
/* Ask the kernel side to stop copying a connection's bytes (an HTTP/2
 * connection the agent gave up): false when its table is full. */
bool loader_stop_conn(struct loader *l, const struct weft_conn_key *k);
/* Its socket closed: a question still pending is taken back (the kernel
 * side drops those it sees at the close; this one came after it). */
void loader_stop_conn_done(struct loader *l, const struct weft_conn_key *k);
/* The map of weft's own connections (ownconn.h). */
int loader_own_conns_fd(struct loader *l);
/* The map of weft's own listening sockets (struct weft_listener). */
int loader_own_listeners_fd(struct loader *l);
/* Sums the per-CPU counters into out[WEFT_CNT_MAX]. */
int loader_counters(struct loader *l, uint64_t *out);
const char *loader_hooks_name(enum hook_mode m);

#endif /* WEFT_LOADER_H */
