/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trace context on the wire: B3 multi-header, B3 single-header, W3C
 * traceparent/tracestate and Jaeger's uber-trace-id. Parsing is strict where
 * the specifications are (lengths, hex, all-zero ids) because a wrong parent
 * is worse than a new trace.
 */
#ifndef WEFT_PROPAGATION_H
#define WEFT_PROPAGATION_H

#include <stdbool.h>
#include <stdint.h>
#include "http.h"

enum ctx_source {
	CTX_NONE = 0,
	CTX_TRACEPARENT,
	CTX_B3_SINGLE,
	CTX_B3_MULTI,
	CTX_UBER,
};

struct trace_ctx {
	bool valid;			/* trace_id and span_id are usable */
	enum ctx_source source;
	uint8_t trace_id[16];		/* 64-bit ids left-padded with zeros */
	uint8_t span_id[8];		/* the caller's span: our parent */
	uint8_t parent_id[8];		/* the caller's parent (B3), if any */
	bool has_parent_id;
	int sampled;			/* -1 deferred/absent, 0 no, 1 yes */
	bool debug;			/* X-B3-Flags: 1 or b3 "d" */
	char tracestate[HTTP_CTX_VALUE_MAX];
};

/*
 * Pick the context of a request from its headers. Precedence when several
 * are present and valid: traceparent, b3, X-B3-*, uber-trace-id.
 * Sampling-only B3 ("b3: 0", X-B3-Sampled without ids) yields valid=false
 * with sampled set, so the caller can honour the decision.
 */
void ctx_from_headers(const struct http_ctx_headers *h, struct trace_ctx *out);

/*
 * Individual parsers; return true on a valid context. Each resets *out
 * first (sampled -1, source CTX_NONE); source is set only when valid.
 */
bool ctx_parse_traceparent(const char *v, struct trace_ctx *out);
bool ctx_parse_b3_single(const char *v, struct trace_ctx *out);
bool ctx_parse_b3_multi(const struct http_ctx_headers *h, struct trace_ctx *out);
bool ctx_parse_uber(const char *v, struct trace_ctx *out);

/*
 * Parse hex of 16 or 32 digits (trace id) into 16 bytes, left-padding 64-bit
 * ids; 16 digits into 8 bytes (span id). Rejects other lengths, non-hex and
 * all-zero ids.
 */
bool parse_trace_id(const char *s, size_t n, uint8_t out[16]);
bool parse_span_id(const char *s, size_t n, uint8_t out[8]);

#endif /* WEFT_PROPAGATION_H */
