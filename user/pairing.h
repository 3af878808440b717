/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stage 3: pairing. Connections by kernel socket, each with its two
 * streams (framing, stage 2); requests queue in order and each response
 * answers the oldest (HTTP/1.1 pipelining is strictly in order). A request
 * becomes an exchange whose identity linking (stage 4) decides when its
 * head is parsed; a finished exchange that linking lets through becomes a
 * span (spanbuild.h) handed to a callback that takes ownership.
 *
 * A connection whose request direction starts with the HTTP/2 client
 * preface goes to h2.h instead of framing: each of its streams is an
 * exchange of its own, handed on the same way.
 */
#ifndef WEFT_PAIRING_H
#define WEFT_PAIRING_H

#include <stdbool.h>
#include <stdint.h>
#include "framing.h"
#include "h2.h"
#include "link.h"
#include "record.h"
#include "span.h"

typedef void (*span_cb)(struct span *s, void *ctx);

/*
 * How long a server span waits for its client's record when the client is
 * on this node (rule 2, README "Linking"). The wait ends the moment the
 * record comes; only a client weft does not see (filtered out, or its
 * record lost) waits this long.
 */
#define PAIRING_LINK_WAIT_MS	100

struct pairing_opts {
	uint32_t hdr_window;		/* longest header block parsed */
	bool (*is_go)(uint32_t pid);	/* Go process? NULL = never */
	/* a Go process has an HTTP/2 request weft could not decode (a
	 * connection older than weft): read its servers' own decoding from
	 * now on (goprobes_want_h2_fields). NULL = never */
	void (*want_h2_fields)(uint32_t pid);
	/* the resource of a process, looked up while it is alive (the span
	 * may outlive it); a new reference. NULL = spans have none */
	struct resource *(*resource_of)(uint32_t pid, const char *comm);
	/* An HTTP/2 connection was given up (h2_lost): ask the kernel side
	 * to stop copying its bytes. False when it could not be asked (its
	 * table is full). NULL: never asked. */
	bool (*stop_conn)(const struct weft_conn_key *k);
	/* Its close came: take back a question the socket may not have
	 * lived to see (asked after the close). NULL: never. */
	void (*stop_conn_done)(const struct weft_conn_key *k);
	struct link_opts link;
	uint64_t idle_timeout_ns;	/* forget a silent connection after this */
};

struct pairing_stats {
	uint64_t spans;			/* spans built */
	uint64_t conns_open;		/* connections followed now */
	uint64_t conns_open_peak;	/* the most followed at once since start */
	struct framing_stats framing;	/* not HTTP, heads truncated */
	uint64_t orphan_responses;	/* responses with no request seen */
	uint64_t responses_early;	/* client reads that came before the
					 * record of a send they follow, and
					 * waited for it (pairing.c HOLD_*) */
	uint64_t responses_early_unheld; /* ... that could not wait: over
					 * the per-connection or total bound */
	uint64_t closed_early;		/* exchanges cut by close/reset (error spans) */
	uint64_t timed_out;		/* requests with no response before idle timeout */
	uint64_t conns_lost;		/* connections the kernel side lost (LRU
					 * eviction) or whose close was lost */
	uint64_t conns_lost_exchanges;	/* requests pending on those */
	uint64_t closes_waited;		/* closes that waited for the reads of
					 * bytes queued before them (a reset) */
	uint64_t incomplete_at_exit;	/* requests pending when weft stopped */
	uint64_t pending_overflow;	/* requests dropped: too many pipelined */
	struct h2_stats h2;		/* HTTP/2 connections and their drops */
	uint64_t go_handlers;		/* Go HTTP/2 handler goroutines tied
					 * to their stream's server span */
	uint64_t go_handlers_unplaced;	/* ... whose stream was not found
					 * (not decoded, already ended) */
};

struct pairing;

struct pairing *pairing_new(const struct pairing_opts *o, span_cb cb, void *ctx);
void pairing_chunk(struct pairing *p, const struct chunk *ck);
void pairing_close(struct pairing *p, const struct conn_end *e);
/* A Go HTTP/2 server started a stream's handler goroutine: its outgoing
 * calls are the stream's children (rule 1). */
void pairing_go_stream(struct pairing *p, const struct go_stream *gs);
/* The header fields a Go HTTP/2 server decoded for a stream: fills in a
 * request of a connection older than weft that h2.c could not decode. */
void pairing_go_h2_fields(struct pairing *p, const struct go_h2_fields *gf);
/* Spans held for a late client end go out once it came or the wait is
 * over: call every few ms. */
void pairing_tick(struct pairing *p, uint64_t now_mono_ns);
/* Forget connections idle for longer than the timeout. */
void pairing_sweep(struct pairing *p, uint64_t now_mono_ns);
/* At exit: finish what can be finished, count the rest. */
void pairing_flush(struct pairing *p);
/* Flushes, then frees everything. */
void pairing_free(struct pairing *p);
/* pid ran exec: a new program, whatever was learnt of the old one goes. */
void pairing_forget_pid(struct pairing *p, uint32_t pid);
void pairing_get_stats(const struct pairing *p, struct pairing_stats *out);
void pairing_get_link_stats(const struct pairing *p, struct link_stats *out);

#endif /* WEFT_PAIRING_H */
