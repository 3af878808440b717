/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stage 2 for HTTP/2 (RFC 9113): the frames of one connection that started
 * with the client preface, in both directions, cut out of the chunks the
 * kernel side forwards (each a prefix of what one socket call moved: frame
 * lengths are followed across chunks, and DATA payload that was not copied
 * is skipped by its length). Header blocks (HEADERS + CONTINUATION) are
 * decoded with the connection's two HPACK decoders (hpack.h); each request
 * stream becomes a struct http_msg, as if its pseudo-headers and headers
 * had come as an HTTP/1.1 head, so pairing, linking and span building
 * treat it like any other request.
 *
 * A stream starts at the first byte of its request HEADERS frame and ends
 * with the frame that ends the response (END_STREAM on DATA or trailers),
 * a RST_STREAM, or the connection. A frame header in bytes that were not
 * copied (or one that makes no sense) means the frame boundaries are lost:
 * the connection's open streams are dropped (counted) and the rest of the
 * connection is ignored.
 */
#ifndef WEFT_H2_H
#define WEFT_H2_H

#include <stdbool.h>
#include <stdint.h>
#include "http.h"
#include "hpack.h"
#include "record.h"

#define H2_PREFACE		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN		24
/* Open streams followed per connection; requests past it are refused
 * (counted), never evict a stream whose response may still come. */
#define H2_MAX_STREAMS		1000
/* Longest header block (HEADERS + CONTINUATION payload) decoded: a longer
 * one cannot be decoded, which poisons that direction's HPACK decoder. */
#define H2_BLOCK_MAX		65536
/* Regular request fields kept for the message (user agent, content type,
 * trace context), as HTTP/1.1 header lines. */
#define H2_HEAD_MAX		8192
#define H2_GRPC_MSG_MAX		256

struct h2_stats {
	uint64_t conns;			/* connections that spoke HTTP/2 */
	uint64_t streams;		/* request streams followed */
	uint64_t sync_lost;		/* connections whose frames were lost */
	uint64_t seq_gaps;		/* of them: a chunk missing (records lost) */
	uint64_t streams_lost;		/* open streams dropped by a sync loss */
	uint64_t hpack_errors;		/* decoders poisoned (malformed or cut block) */
	uint64_t blocks_undecoded;	/* header blocks after a poisoning */
	uint64_t streams_refused;	/* requests over H2_MAX_STREAMS */
	uint64_t bad_requests;		/* request blocks without a usable
					 * :method / :path */
	uint64_t streams_reset;		/* streams ended by RST_STREAM */
	uint64_t goaway_dropped;	/* streams the server said it never
					 * processed (GOAWAY): retried elsewhere */
	uint64_t stop_asked;		/* lost connections whose bytes the
					 * kernel side was asked to stop copying */
	uint64_t stop_unasked;		/* ... that could not be asked (its
					 * table full): still copied */
	/* connections followed from the middle (weft started after they
	 * opened: h2_new_midstream) */
	uint64_t mid_conns;		/* begun so */
	uint64_t mid_synced;		/* of them: frames found in both
					 * directions */
	uint64_t mid_chunks_skipped;	/* chunks not starting at a frame,
					 * passed over while finding one */
	uint64_t mid_unsynced;		/* given up: no frame boundary found */
	uint64_t mid_streams;		/* request streams followed on them */
	uint64_t mid_fields_unknown;	/* header fields that named a table
					 * entry from before weft */
	uint64_t mid_requests_unknown;	/* requests without :method or :path
					 * for that reason: no span */
	uint64_t mid_ctx_by_shape;	/* traceparent or b3 values of such
					 * fields, taken by their shape */
	uint64_t mid_ctx_hidden;	/* requests with such a field that may
					 * have been B3 context: no span */
	uint64_t mid_pending;		/* such requests kept to be filled in
					 * from the Go server's own decoding */
	uint64_t go_fields_records;	/* decoded-fields records of Go servers */
	uint64_t go_fields_filled;	/* of them: filled in a kept request */
	uint64_t go_fields_ambiguous;	/* fit several kept requests: none */
	uint64_t go_fields_unusable;	/* filled in, but no :method/:path */
	uint64_t mid_pending_expired;	/* kept requests no record filled in */
	uint64_t mid_pending_lost;	/* kept requests whose connection ended
					 * first */
	uint64_t go_written_records;	/* fields grpc-go wrote, recorded */
	uint64_t go_written_filled;	/* blocks filled in from them */
};

/* A request stream's header block was decoded. */
struct h2_request {
	uint32_t stream_id;
	struct http_msg *m;		/* the sink may take it (set NULL) */
	bool truncated;			/* fields did not all fit H2_HEAD_MAX */
	uint64_t first_ns;		/* first byte of the HEADERS frame */
	uint32_t first_seq;		/* its TCP sequence number */
	const struct chunk *ck;		/* the chunk in which the block ended */
};

enum h2_end_how {
	H2_END_DONE,			/* the response ended its stream */
	H2_END_RESET,			/* RST_STREAM, either side */
	H2_END_CONN_CLOSED,		/* the connection closed first */
	H2_END_CONN_RESET,		/* the connection was reset first */
	H2_END_DROP,			/* no span: sync lost, GOAWAY, forgotten */
};

struct h2_response {
	int status;			/* :status, 0 when never seen */
	bool has_grpc_status;
	int grpc_status;		/* grpc-status (response or trailers) */
	const char *grpc_message;	/* grpc-message, "" when none */
	uint64_t end_ns;
	enum h2_end_how how;
};

/*
 * What weft decoded of a request block on a connection taken up from the
 * middle that it could not make a request of (:method or :path, or a value
 * that may be B3 context, named table entries from before): enough to
 * recognise the same request in the fields the server itself decoded
 * (pairing.c, from go_h2_fields). known: the fields weft decoded, each
 * "name\0value\0" (values over 200 bytes left out); n_fields: all the
 * block's fields, decoded or not.
 */
#define H2_KNOWN_MAX	1024
struct h2_known {
	const char *known;
	size_t known_len;
	uint32_t n_fields;
	bool ctx_hidden;		/* why: a possible B3 value, not :path */
};

struct h2_sink {
	void *ctx;
	/* A request stream opened: what its end is reported with, or NULL
	 * when the sink does not follow it. */
	void *(*request)(void *ctx, struct h2_request *r);
	/* A followed stream ended (the sink frees what it returned). */
	void (*end)(void *ctx, void *stream, const struct h2_response *r);
	/* Optional: a request block of a mid-stream connection that could
	 * not be decoded enough (struct h2_known). What it returns is the
	 * stream's until h2_stream_resolve; the stream's end goes to
	 * pending_end meanwhile. NULL: not followed. */
	void *(*pending)(void *ctx, struct h2_request *r, const struct h2_known *kn);
	void (*pending_end)(void *ctx, void *stream, const struct h2_response *r);
	/* Optional: a block of a connection taken up from the middle named
	 * table entries from before. The fields the process itself wrote
	 * for that stream (grpc-go's writer records them before their
	 * bytes: pairing.c), when they fit what weft decoded: true and
	 * *data, *len, *n set (the weft_go_h2_fields_rec layout). */
	bool (*written)(void *ctx, uint32_t stream_id, const struct h2_known *kn,
			const uint8_t **data, size_t *len, unsigned *n);
	struct h2_stats *stats;
};

struct h2_conn;

/* The first n bytes at p could begin the client preface (n >= 4). */
bool h2_preface_start(const uint8_t *p, size_t n);
/* A connection whose client preface travels in direction req_dir. */
struct h2_conn *h2_new(enum weft_dir req_dir);
/*
 * A connection that was open before weft started, seen from a chunk that
 * begins with a frame header (the kernel side's judgement). Each
 * direction is followed from the first chunk whose frames add up
 * (chunks before it are passed over, counted); the HPACK decoders are
 * partial (hpack_init_partial); which direction carries requests is
 * learnt from the first block with :method or :status.
 */
struct h2_conn *h2_new_midstream(void);
/* The direction requests travel in: WEFT_DIR_SEND or WEFT_DIR_RECV, or -1
 * while a mid-stream connection has not said. */
int h2_req_dir(const struct h2_conn *c);
/* One chunk of either direction, in order within its direction. */
void h2_feed(struct h2_conn *c, const struct chunk *ck, const struct h2_sink *k);
/* The connection is gone (or forgotten): every open stream ends as how. */
void h2_end_all(struct h2_conn *c, uint64_t ts, enum h2_end_how how,
		const struct h2_sink *k);
uint32_t h2_open_streams(const struct h2_conn *c);
/* Given up for good (frames out of step, or never found on a connection
 * taken up from the middle): nothing more of it will be decoded. */
bool h2_lost(const struct h2_conn *c);
/* A pending stream (h2_sink.pending) is now a request: ud is what its end
 * is reported with (h2_sink.end) from here. False when no such stream. */
bool h2_stream_resolve(struct h2_conn *c, uint32_t id, void *ud);
/* The request a Go server decoded (the fields of a weft_go_h2_fields_rec:
 * n fields in len bytes), as h2.c makes one from a header block; NULL
 * when unusable. */
struct http_msg *h2_request_from_fields(const uint8_t *data, size_t len,
					unsigned n, bool *truncated);
/* Frees the connection; its streams must have ended (h2_end_all). */
void h2_free(struct h2_conn *c);

#endif /* WEFT_H2_H */
