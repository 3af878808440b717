/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stage 2: framing. Each direction of a connection is a byte stream of
 * which the kernel sent every byte count and a prefix of the bytes: header
 * blocks whole, bodies only as lengths and tails. That is enough to cut the
 * stream into HTTP/1.x messages: a head is parsed when its blank line
 * arrives, a body is skipped by Content-Length, decoded when chunked (the
 * tail heuristic where bytes are missing), or runs to the close.
 *
 * Framing knows messages, not exchanges: it hands each parsed head to its
 * sink (pairing, stage 3), which says what the head is to the connection,
 * and it reports where each response ends.
 */
#ifndef WEFT_FRAMING_H
#define WEFT_FRAMING_H

#include <stdbool.h>
#include <stdint.h>
#include "http.h"
#include "record.h"

struct framing_stats {
	uint64_t not_http;		/* chunks that did not parse as HTTP, and
					 * requests answered by no HTTP response
					 * (pairing.c, on_bad_start) */
	uint64_t heads_truncated;	/* header blocks over the window or cut */
};

/* A message head, as framing found it. */
struct framing_head {
	struct http_msg *m;		/* parsed; the sink may take it (set NULL) */
	bool truncated;			/* over the window or cut: body framing lost */
	uint64_t first_ns;		/* first byte of the message */
	uint32_t first_seq;		/* TCP sequence number of that byte */
	const struct chunk *ck;		/* the chunk in which the head ended */
};

enum framing_verdict {
	FRAMING_BODY,			/* a message of this stream: follow its body */
	FRAMING_REJECT,			/* not one this direction carries: lost */
	FRAMING_UPGRADED,		/* the connection is no longer HTTP */
};

struct framing_sink {
	void *ctx;
	/* A head was parsed. For a response, method is set to the method of
	 * the request it answers ("" when unknown): HEAD and CONNECT decide
	 * whether a body follows. */
	enum framing_verdict (*head)(void *ctx, enum weft_dir d,
				     struct framing_head *h,
				     char method[HTTP_METHOD_MAX]);
	/* The response in progress on this stream ended at end_ns. */
	void (*response_end)(void *ctx, uint64_t end_ns);
	/* Where a message of stream d had to start, the bytes were not one
	 * (not HTTP, or a message of the other direction). NULL: not told. */
	void (*bad_start)(void *ctx, enum weft_dir d);
	uint32_t hdr_window;		/* longest header block parsed */
	struct framing_stats *stats;
};

/* One direction of a connection. Zeroed is a fresh stream; the fields are
 * framing.c's own. */
struct stream {
	int st;			/* enum stream_state in framing.c */
	uint8_t *head;		/* header block so far (up to the window) */
	size_t head_len;
	size_t head_cap;	/* bytes allocated at head */
	uint64_t body_left;
	struct http_chunked ch;
	uint64_t first_ns, last_ns;
	uint32_t first_seq;	/* TCP sequence number of the message's first byte */
	bool is_response;	/* what the current message is */
	/* A chunk shorter than a request line's first word, between
	 * messages: Go's server reads the next request's first byte alone.
	 * The kernel keeps the same bytes (bpf/weft.bpf.c, pend_update) to
	 * recognise the next chunk as a message start. */
	uint8_t pend[8];
	uint32_t pend_len;
	uint64_t pend_ns;
	uint32_t pend_seq;
};

/* Walk one chunk of the stream. Stops early when the sink says the
 * connection was upgraded; the caller feeds such a connection no more. */
void framing_feed(struct stream *s, const struct chunk *ck,
		  const struct framing_sink *sink);
/* Nothing of a message in progress: the next byte starts one. */
bool framing_between_messages(const struct stream *s);
/* The body in progress runs until the close, which ends it completely. */
bool framing_until_close(const struct stream *s);
/* Time of the last byte of the current message seen. */
uint64_t framing_last_ns(const struct stream *s);
void framing_free(struct stream *s);

#endif /* WEFT_FRAMING_H */
