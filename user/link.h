/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parent links: who is the parent of a span, decided when its request head
 * is parsed so that children and the other end of a connection can refer
 * to it before it completes. The rules (README, "Linking"):
 *  1. in a process, a client span is the child of the server span being
 *     handled by the same thread (Go: by the goroutine that asked for it);
 *  2. both ends on this node: the server span's parent is the client span
 *     recorded for the same request on the other end (the client's address
 *     and port + TCP sequence number of the request's first byte, which a
 *     Service's DNAT leaves alone; link.c, struct wkey), whatever the
 *     headers;
 *  3. a request carrying a span id the process made itself: no client span
 *     (it would duplicate the process's own), the downstream parent is that
 *     span id, and the process's server spans are suppressed by default;
 *  4. a request carrying exactly the incoming context (a forwarder): a
 *     client span of our own, child of the server span;
 *  5. across nodes: headers (default) or derived ids (--link-mode derived);
 *  6. no headers at all: a new trace at the first span seen;
 *  7. sampling: the sampler (sampler.h) decides where a span takes its
 *     trace from the headers or starts one; a decision made on this node
 *     travels with the trace (rules 1, 2).
 * Telemetry (telemetry.h: SDKs' and collectors' exports) is outside the
 * rules: such a request has no span at either end (unless
 * trace_telemetry), never joins or starts a user's trace, and neither do
 * the calls made while handling one. A process that sends spans to a
 * collector makes its own: rule 3 holds for it from that request on.
 */
#ifndef WEFT_LINK_H
#define WEFT_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include "exchange.h"
#include "span.h"

struct sampler;
struct ctx_formats;

enum link_mode {
	LINK_HEADERS,		/* rule 5 default */
	LINK_DERIVED,		/* rule 5 opt-in */
};

/* Where a finished exchange goes (link_done). */
enum link_verdict {
	LINK_EMIT,		/* a span, now */
	LINK_DROP,		/* no span (rule 3, telemetry) */
	LINK_HOLD,		/* a span, once a late client end came or not:
				 * build it and give it to link_hold */
};

struct link_opts {
	enum link_mode mode;
	/* spans held for a late client end go here when released */
	void (*emit)(struct span *s, void *ctx);
	void *emit_ctx;
	uint64_t wait_ns;	/* longest wait for a client end on this node */
	/* some processes are not traced (--pid, --comm, --exe): wait only on
	 * connections whose client end was seen before */
	bool some_processes;
	bool keep_instrumented;	/* keep spans of processes making their own */
	bool trace_telemetry;	/* telemetry requests get spans, in traces
				 * of their own (debugging a collector) */
	/* Go: creator of a goroutine (0 = unknown); NULL = not followed */
	uint64_t (*g_parent)(uint32_t pid, uint64_t g);
	/* Go: ask for goroutine-creation tracking in pid; NULL = never */
	void (*want_g_parents)(uint32_t pid);
	/* rule 7: decides sampled where a span does not inherit it from a
	 * span on this node (sampler.h); NULL = parentbased_always_on */
	struct sampler *sampler;
	/* context formats read, in precedence order; NULL = all */
	const struct ctx_formats *formats;
};

struct link_stats {
	uint64_t wire_links;		/* server spans parented on this node */
	uint64_t wire_misses;		/* server spans emitted unlinked whose
					 * client end on this node came later */
	uint64_t wire_miss_late_max_ns;	/* how late the latest such client end
					 * came after the server's first byte */
	uint64_t wire_waited;		/* server spans linked by waiting */
	uint64_t spans_held;		/* spans held back for a late client */
	uint64_t process_links;		/* client spans parented in-process */
	uint64_t suppressed_client;	/* rule 3 client spans not emitted */
	uint64_t suppressed_server;	/* other spans of instrumented processes */
	uint64_t telemetry;		/* telemetry exchanges (no span unless
					 * trace_telemetry) */
	uint64_t client_starts_moved;	/* client spans started at their server's
					 * first read (client_start_clamp) */
};

struct link;

struct link *link_new(const struct link_opts *o);
void link_free(struct link *lk);
/* Decide the identity of a request just parsed, at now_ns. is_go: the
 * process is Go (goroutines, not threads, carry requests). Linking keeps a
 * pointer to a server exchange while its thread or goroutine works for it
 * (a late rule-2 link rewrites its identity): link_forget must be called
 * before such an exchange is freed. */
void link_request(struct link *lk, struct exchange *ex, const struct conn_info *ci,
		  bool is_go, uint64_t now_ns);
/* The exchange is complete: what becomes of its span. */
enum link_verdict link_done(struct link *lk, struct exchange *ex,
			    const struct conn_info *ci);
/* Takes the span of an exchange link_done said to hold. */
void link_hold(struct link *lk, const struct exchange *ex, struct span *s);
/* Release held spans whose wait is over (call every few ms). */
void link_tick(struct link *lk, uint64_t now_mono_ns);
/* At exit: every held span goes out now. */
void link_release_all(struct link *lk);
/* The server exchange ex (at work) is handled by goroutine or thread key
 * from now on, not by the one that read it: a Go HTTP/2 server runs each
 * stream's handler on a goroutine of its own (rule 1 follows it). */
void link_rekey(struct link *lk, struct exchange *ex, const struct conn_info *ci,
		uint64_t key);
/* The exchange is about to be freed: drop what refers to it. */
void link_forget(struct link *lk, struct exchange *ex);
/* pid runs a new program (exec): what it was known for no longer holds. */
void link_forget_pid(struct link *lk, uint32_t pid);
void link_get_stats(const struct link *lk, struct link_stats *out);
/* Deterministic span id for rule 5 derived mode (exposed for tests). */
void link_derive_span_id(const uint8_t trace_id[16], const uint8_t span_id[8],
			 uint32_t seq, uint8_t out[8]);

#endif /* WEFT_LINK_H */
