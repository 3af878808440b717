/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The operations endpoint (--metrics-addr): liveness (/healthz), readiness
 * (/readyz) and Prometheus self-metrics (/metrics), served by libmicrohttpd
 * from a thread of its own.
 *
 * The HTTP thread never touches the pipeline: the main loop copies what
 * /metrics shows into a snapshot once a second (ops_tick, one mutex taken
 * once a second, never per record) and leaves a heartbeat (one atomic store
 * per drain pass). What the kernel keeps current by itself (ring-buffer
 * positions) and what belongs to the process (RSS, CPU) are read when
 * scraped.
 *
 * weft's own side of a scrape is never traced (the kernel skips weft's pid);
 * the scraper's side is skipped too: the endpoint's socket is told to the
 * kernel (struct weft_listener), which marks each client as it connects.
 */
#ifndef WEFT_OPSSERVER_H
#define WEFT_OPSSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "weft.h"
#include "exporter.h"
#include "kube_meta.h"
#include "link.h"
#include "pairing.h"

struct loader;

/* Longest the main loop may go without a heartbeat before /healthz says it
 * is stuck; at start-up (BPF load, the first /proc scan) it may take longer. */
#define OPS_STALL_NS		(10ULL * 1000000000ULL)
#define OPS_STARTUP_STALL_NS	(60ULL * 1000000000ULL)

enum ops_state {
	OPS_STARTING,		/* loading and attaching the BPF programs */
	OPS_ATTACHED,		/* attached; the ring buffer not yet polled */
	OPS_RUNNING,		/* the main loop has drained the ring once */
	OPS_STOPPING,		/* SIGINT/SIGTERM or --duration: on the way out */
};

/* The main loop's own counters (main.c). */
struct ops_agent_counts {
	uint64_t records;		/* ring-buffer records handled */
	uint64_t records_filtered;	/* data records dropped by the agent's filters */
	uint64_t spans_output;		/* printed and/or exported */
	uint64_t spans_unsampled;	/* dropped: trace not sampled */
};

/* Everything /metrics shows. */
struct ops_snapshot {
	/* copied by the main loop (ops_tick) */
	uint64_t kernel[WEFT_CNT_MAX];	/* the BPF counters map */
	struct ops_agent_counts agent;
	struct pairing_stats pairing;
	struct link_stats links;
	uint64_t go_binaries, go_probed, go_stripped;
	uint64_t own_conn_errors;
	bool exporting;
	struct exporter_stats exporter;
	uint64_t ring_used_max;		/* highest fill seen before a drain */
	/* read when scraped */
	bool ready;
	uint64_t ring_size;		/* 0 = not known (yet) */
	uint64_t ring_used;
	uint64_t rss_bytes;
	double cpu_seconds;
	const char *version;
	const char *libbpf_version;
	struct kube_meta_stats k8s;
};

struct ops_server;

/* "[HOST:]PORT", "[IPV6]:PORT": host "" = every address. Port 0 = any free
 * port (ops_port tells which). Returns 0, or -1 with a message on stderr. */
int ops_parse_addr(const char *spec, char *host, size_t host_size,
		   unsigned *port);
/* Listens on spec and starts serving; NULL after a one-line message. */
struct ops_server *ops_start(const char *spec);
unsigned ops_port(const struct ops_server *s);
/* The BPF programs are attached (l NULL in tests: no map, no ring). */
void ops_attached(struct ops_server *s, struct loader *l);
/* Each drain pass, before the drain: how full the ring buffer got. */
void ops_note_ring(struct ops_server *s);
/* Each drain pass, after it: the heartbeat, ready after the first, and the
 * snapshot once a second. Any source may be NULL (counted as zero). */
void ops_tick(struct ops_server *s, uint64_t now_ns,
	      const struct ops_agent_counts *c, struct loader *l,
	      const struct pairing *p, struct exporter *e);
/* Stops the thread, closes the socket, frees s. NULL is fine. */
void ops_stop(struct ops_server *s);

/* What /healthz (live) or /readyz answers in a state, with the heartbeat
 * that old: the HTTP status, and a one-line reason in msg. */
int ops_probe(bool live, enum ops_state st, uint64_t heartbeat_age_ns,
	      char *msg, size_t size);
/* The Prometheus text exposition (format 0.0.4) of s; malloc'd, NULL when
 * memory is out. */
char *ops_metrics_text(const struct ops_snapshot *s, size_t *len);

#endif /* WEFT_OPSSERVER_H */
