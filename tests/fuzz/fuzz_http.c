// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_http: the HTTP/1.x head parser (user/http.c) over raw bytes, as
 * the kernel side hands over a header block: http_looks_like_request /
 * _response, http_find_head_end, http_parse_head, http_body_length,
 * http_copy_cut. The input is the byte stream itself (exact-size heap
 * copy: a read past the end is an ASan report).
 *
 * Invariants beyond "no crash":
 *  - HTTP_OK: head_len is where http_find_head_end says the head ends
 *    (framing cuts with one, parses with the other); a response starts
 *    with what http_looks_like_response accepts; version 1.0 or 1.1;
 *    status 100..999 for a response, a method for a request; every string
 *    NUL-terminated inside its array; n_headers <= HTTP_MAX_HEADERS;
 *    content_length >= -1; http_body_length gives a length >= 0 or none;
 *  - the head alone (buf[0..head_len)) parses to the same message, and
 *    any shorter prefix is HTTP_INCOMPLETE (never INVALID: bytes of a good
 *    head must not be rejected before it ends, the kernel side judges
 *    chunks that way);
 *  - a prefix judged HTTP_INVALID stays INVALID with more bytes;
 *  - parsing is deterministic (twice, same fields);
 *  - http_copy_cut keeps min(n, size - 1) bytes and terminates.
 */
#include "fuzz.h"
#include "http.h"

#define TERMINATED(a) FUZZ_ASSERT(memchr((a), '\0', sizeof(a)) != NULL)

static void check_msg(const struct http_msg *m, const uint8_t *buf, size_t len)
{
	const struct http_ctx_headers *c = &m->ctx;
	int64_t blen = -2;

	FUZZ_ASSERT(m->head_len > 0 && m->head_len <= len);
	FUZZ_ASSERT(m->head_len == http_find_head_end(buf, len));
	FUZZ_ASSERT(m->version_minor == 0 || m->version_minor == 1);
	TERMINATED(m->method);
	TERMINATED(m->target);
	TERMINATED(m->host);
	TERMINATED(m->user_agent);
	TERMINATED(m->content_type);
	TERMINATED(c->b3_traceid);
	TERMINATED(c->b3_spanid);
	TERMINATED(c->b3_parentspanid);
	TERMINATED(c->b3_sampled);
	TERMINATED(c->b3_flags);
	TERMINATED(c->b3);
	TERMINATED(c->traceparent);
	TERMINATED(c->tracestate);
	TERMINATED(c->uber_trace_id);
	FUZZ_ASSERT(c->duplicates >= 0);
	FUZZ_ASSERT(m->n_headers >= 0 && m->n_headers <= HTTP_MAX_HEADERS);
	FUZZ_ASSERT(m->content_length >= -1);
	if (m->is_request) {
		FUZZ_ASSERT(m->method[0]);
	} else {
		FUZZ_ASSERT(m->status >= 100 && m->status <= 999);
		FUZZ_ASSERT(http_looks_like_response(buf, len));
	}
	if (http_body_length(m, "", &blen))
		FUZZ_ASSERT(blen >= 0);
	if (http_body_length(m, "HEAD", &blen))
		FUZZ_ASSERT(blen >= 0);
	if (http_body_length(m, "CONNECT", &blen))
		FUZZ_ASSERT(blen >= 0);
}

static void same_msg(const struct http_msg *a, const struct http_msg *b)
{
	FUZZ_ASSERT(a->is_request == b->is_request);
	FUZZ_ASSERT(a->version_minor == b->version_minor);
	FUZZ_ASSERT(strcmp(a->method, b->method) == 0);
	FUZZ_ASSERT(strcmp(a->target, b->target) == 0);
	FUZZ_ASSERT(a->target_truncated == b->target_truncated);
	FUZZ_ASSERT(a->status == b->status);
	FUZZ_ASSERT(strcmp(a->host, b->host) == 0);
	FUZZ_ASSERT(strcmp(a->user_agent, b->user_agent) == 0);
	FUZZ_ASSERT(strcmp(a->content_type, b->content_type) == 0);
	FUZZ_ASSERT(a->content_length == b->content_length);
	FUZZ_ASSERT(a->chunked == b->chunked);
	FUZZ_ASSERT(a->conn_close == b->conn_close);
	FUZZ_ASSERT(a->expect_continue == b->expect_continue);
	FUZZ_ASSERT(a->upgrade == b->upgrade);
	FUZZ_ASSERT(a->head_len == b->head_len);
	FUZZ_ASSERT(a->n_headers == b->n_headers);
	FUZZ_ASSERT(strcmp(a->ctx.b3_traceid, b->ctx.b3_traceid) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.b3_spanid, b->ctx.b3_spanid) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.b3_parentspanid, b->ctx.b3_parentspanid) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.b3_sampled, b->ctx.b3_sampled) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.b3_flags, b->ctx.b3_flags) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.b3, b->ctx.b3) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.traceparent, b->ctx.traceparent) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.tracestate, b->ctx.tracestate) == 0);
	FUZZ_ASSERT(strcmp(a->ctx.uber_trace_id, b->ctx.uber_trace_id) == 0);
	FUZZ_ASSERT(a->ctx.duplicates == b->ctx.duplicates);
	FUZZ_ASSERT(a->ctx.traceparent_dup == b->ctx.traceparent_dup);
}

/* Parse the first n bytes of data from an exact-size copy. */
static enum http_parse_result parse_prefix(const uint8_t *data, size_t n,
					   struct http_msg *m)
{
	uint8_t *b = fz_memdup(data, n);
	enum http_parse_result r = http_parse_head(b, n, m);

	if (r == HTTP_OK)
		check_msg(m, b, n);
	free(b);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_msg m, m2;	/* 7 KiB each */
	uint8_t *buf = fz_memdup(data, size);
	enum http_parse_result r;
	size_t end, cut;
	char small[7];

	(void)http_looks_like_request(buf, size);
	(void)http_looks_like_response(buf, size);
	end = http_find_head_end(buf, size);
	FUZZ_ASSERT(end <= size);
	FUZZ_ASSERT(http_copy_cut(small, sizeof(small), buf, size) ==
		    (size < sizeof(small) - 1 ? size : sizeof(small) - 1));
	TERMINATED(small);

	r = http_parse_head(buf, size, &m);
	FUZZ_ASSERT(r == HTTP_OK || r == HTTP_INCOMPLETE || r == HTTP_INVALID);
	if (r == HTTP_OK) {
		check_msg(&m, buf, size);
		FUZZ_ASSERT(parse_prefix(data, m.head_len, &m2) == HTTP_OK);
		same_msg(&m, &m2);
		/* shorter prefixes: not yet a head, and not rejected */
		cut = size ? data[size - 1] * m.head_len / 256 : 0;
		FUZZ_ASSERT(parse_prefix(data, cut, &m2) == HTTP_INCOMPLETE);
		FUZZ_ASSERT(parse_prefix(data, m.head_len - 1, &m2) == HTTP_INCOMPLETE);
	} else if (r == HTTP_INCOMPLETE) {
		FUZZ_ASSERT(parse_prefix(data, size / 2, &m2) != HTTP_INVALID);
	}
	/* deterministic */
	FUZZ_ASSERT(http_parse_head(buf, size, &m2) == r);
	if (r == HTTP_OK)
		same_msg(&m, &m2);
	free(buf);
	return 0;
}
