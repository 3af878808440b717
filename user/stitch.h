/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stitching: follow each connection's two byte streams, cut them into
 * HTTP/1.x messages (Content-Length, chunked, until-close), pair requests
 * with responses in order (keep-alive, pipelining), and build one span per
 * exchange. Spans go to a callback that takes ownership.
 */
#ifndef WEFT_STITCH_H
#define WEFT_STITCH_H

#include <stdbool.h>
#include <stdint.h>
#include "weft.h"
#include "span.h"
#include "link.h"

typedef void (*span_cb)(struct span *s, void *ctx);

struct stitch_opts {
	uint32_t hdr_window;		/* longest header block parsed */
	bool (*is_go)(uint32_t pid);	/* Go process? NULL = never */
	struct link_opts link;
	uint64_t idle_timeout_ns;	/* forget a silent connection after this */
};

struct stitch_stats {
	uint64_t spans;			/* spans built */
	uint64_t conns_open;		/* connections followed now */
	uint64_t not_http;		/* chunks that did not parse as HTTP */
	uint64_t heads_truncated;	/* header blocks over the window or cut */
	uint64_t orphan_responses;	/* responses with no request seen */
	uint64_t closed_early;		/* exchanges cut by close/reset (error spans) */
	uint64_t timed_out;		/* requests with no response before idle timeout */
	uint64_t incomplete_at_exit;	/* requests pending when weft stopped */
	uint64_t pending_overflow;	/* requests dropped: too many pipelined */
};

struct stitch;

struct stitch *stitch_new(const struct stitch_opts *o, span_cb cb, void *ctx);
void stitch_data(struct stitch *st, const struct weft_data_rec *r);
void stitch_close(struct stitch *st, const struct weft_close_rec *r);
/* Forget connections idle for longer than the timeout. */
void stitch_sweep(struct stitch *st, uint64_t now_mono_ns);
/* At exit: finish what can be finished, count the rest. */
void stitch_flush(struct stitch *st);
/* Flushes, then frees everything. */
void stitch_free(struct stitch *st);
/* pid ran exec: a new program, whatever was learnt of the old one goes. */
void stitch_forget_pid(struct stitch *st, uint32_t pid);
void stitch_get_stats(const struct stitch *st, struct stitch_stats *out);
void stitch_get_link_stats(const struct stitch *st, struct link_stats *out);

#endif /* WEFT_STITCH_H */
