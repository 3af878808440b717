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
 * The context formats read, by the names OTEL_PROPAGATORS gives them:
 * tracecontext (traceparent + tracestate), b3 and b3multi (both mean B3:
 * the b3 header, then X-B3-*, as every SDK's B3 propagator extracts them;
 * the names differ only in what an SDK injects), jaeger (uber-trace-id).
 */
enum ctx_format {
	CTX_FMT_TRACECONTEXT,
	CTX_FMT_B3,
	CTX_FMT_JAEGER,
	CTX_FMT_N,
};

/* Formats tried in order, highest precedence first; n 0 reads none. */
struct ctx_formats {
	int n;
	enum ctx_format first[CTX_FMT_N];
};

/*
 * What weft reads without OTEL_PROPAGATORS: every format, B3 first, then
 * traceparent, then uber-trace-id (as if OTEL_PROPAGATORS were
 * "jaeger,tracecontext,b3": README, DESCRIPTION, says why).
 */
extern const struct ctx_formats ctx_formats_all;

/*
 * A comma list of OTEL_PROPAGATORS names into formats, with the SDKs'
 * composite semantics: the last listed format that yields a context wins,
 * so precedence is the list reversed. "baggage" is accepted and carries
 * no context; "none" reads nothing (and wins over the others). Blank
 * (NULL, "", spaces): every format (ctx_formats_all). An unknown name is
 * left out with a warning when strict is false, or is an error (-1) when
 * it is true; what names the list in messages.
 */
int ctx_formats_parse(const char *list, const char *what, bool strict,
		      struct ctx_formats *out);
/* --propagators (NULL when not given) wins over OTEL_PROPAGATORS; -1 on a
 * bad flag (said on stderr). */
int ctx_formats_configure(struct ctx_formats *out, const char *flag);
/* "b3,tracecontext,jaeger" (highest first) or "none". */
void ctx_formats_describe(const struct ctx_formats *f, char *buf, size_t size);

/*
 * Pick the context of a request from its headers, trying formats in f's
 * order (NULL: ctx_formats_all): the first valid one wins. An invalid
 * header of one format does not hide a valid one of another.
 * Sampling-only B3 ("b3: 0", X-B3-Sampled without ids) yields valid=false
 * with sampled set, so the caller can honour the decision (when B3 is read).
 */
void ctx_from_headers_in(const struct http_ctx_headers *h,
			 const struct ctx_formats *f, struct trace_ctx *out);
/*
 * Requests ctx_from_headers_in found trace-context headers on (of the formats
 * read; a sampling decision alone is none) but no valid context in: the
 * invalid context was ignored and the span starts a trace of its own.
 */
uint64_t ctx_invalid_count(void);
/* ctx_from_headers_in with every format (ctx_formats_all). */
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
