/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One request/response exchange as pairing saw it, ready to become a span
 * (spanbuild.h); linking (link.h) decides its identity. */
#ifndef WEFT_EXCHANGE_H
#define WEFT_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>
#include "weft.h"
#include "http.h"
#include "span.h"
#include "telemetry.h"

enum exch_end {
	EXCH_DONE,		/* the response ended by its framing */
	EXCH_CLOSED,		/* connection closed before the response ended */
	EXCH_RESET,		/* connection reset before the response ended */
	EXCH_STREAM_RESET,	/* HTTP/2: RST_STREAM before the response ended */
};

struct link_pending;

struct exchange {
	struct exchange *next;		/* FIFO of requests awaiting responses */
	struct http_msg *req;		/* owned */
	uint32_t pid, tid;		/* the process that sent/read the request */
	uint64_t g, origin_g;		/* Go: goroutine of the call, and whose
					 * http.Transport call it carries */
	char comm[16];
	struct resource *res;		/* the process, read while it was alive */
	uint32_t req_seq;		/* TCP sequence number of the first byte
					 * (HTTP/2: its stream id, pairing.c
					 * H2_WIRE_ID): rule 2's key */
	uint64_t start_ns;		/* monotonic: first request byte seen */
	uint64_t end_ns;		/* monotonic: last response byte seen */
	int status;			/* final status code, 0 = no response */
	enum exch_end how;
	bool head_truncated;		/* request head larger than the window */
	enum telemetry_kind telemetry;	/* delivers telemetry, or was made
					 * while handling a request that did */
	/* identity, decided when the request head is parsed (link.c) */
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	bool has_parent;
	bool sampled;
	bool suppress;			/* another source emits this span (rule 3) */
	bool linked;			/* parent found on this node (rule 2) */
	bool is_server;
	uint64_t ctx_key;		/* thread or goroutine that handled it */
	struct link_pending *dep;	/* link.c: a late link it waits for */
	char *tracestate;		/* owned */
	bool tls;			/* its bytes came from a TLS library's
					 * plaintext (https) */
	/* HTTP/2 (h2.h): the stream's protocol and its gRPC outcome */
	bool h2;
	uint32_t h2_stream_id;
	struct exchange *h2_next;	/* pairing's index of server streams
					 * by (pid, goroutine, stream id) */
	bool h2_indexed;
	const struct conn_info *h2_ci;	/* its connection's, while indexed */
	bool has_grpc_status;
	int grpc_status;		/* grpc-status of the response/trailers */
	char *grpc_message;		/* owned; NULL when none */
};

/* The connection an exchange travelled on. */
struct conn_info {
	enum weft_role role;
	struct weft_addr addr;
	struct weft_conn_key conn;	/* the kernel socket it is */
};

#endif /* WEFT_EXCHANGE_H */
