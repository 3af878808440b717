/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x message heads: recognise a request or status line, parse a
 * complete header block into the fields weft reports, and follow body
 * framing (Content-Length, chunked). Input is untrusted bytes from other
 * processes: every field is bounded and every malformation is an error
 * code, never a crash.
 */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_METHOD_MAX		24
#define HTTP_TARGET_MAX		2048
#define HTTP_HOST_MAX		256
#define HTTP_UA_MAX		256
#define HTTP_CTYPE_MAX		64	/* media type of Content-Type, parameters cut */
#define HTTP_CTX_VALUE_MAX	512	/* longest trace-context header kept */
#define HTTP_MAX_HEADERS	128	/* header lines parsed per message */

enum http_parse_result {
	HTTP_OK = 0,
	HTTP_INCOMPLETE = 1,	/* no end of header block yet */
	HTTP_INVALID = -1,	/* not an HTTP/1.x message head */
};

/* Trace-context headers as found; values are trimmed, NUL-terminated. */
struct http_ctx_headers {
	char b3_traceid[HTTP_CTX_VALUE_MAX];
	char b3_spanid[HTTP_CTX_VALUE_MAX];
	char b3_parentspanid[HTTP_CTX_VALUE_MAX];
	char b3_sampled[HTTP_CTX_VALUE_MAX];
	char b3_flags[HTTP_CTX_VALUE_MAX];
	char b3[HTTP_CTX_VALUE_MAX];
	char traceparent[HTTP_CTX_VALUE_MAX];
	char tracestate[HTTP_CTX_VALUE_MAX];
	char uber_trace_id[HTTP_CTX_VALUE_MAX];
	/* Number of times a header we keep appeared more than once (first wins
	 * for b3/traceparent, as W3C says to treat duplicates as invalid for
	 * traceparent: see propagation.c). */
	int duplicates;
	bool traceparent_dup;
};

/* http_parse_head resets a message field by field (msg_reset in http.c):
 * a new field must be added there too. */
struct http_msg {
	bool is_request;
	int version_minor;		/* 0 or 1 (HTTP/1.x) */
	/* request */
	char method[HTTP_METHOD_MAX];
	char target[HTTP_TARGET_MAX];
	bool target_truncated;
	/* response */
	int status;			/* 100..999 */
	/* headers */
	char host[HTTP_HOST_MAX];
	char user_agent[HTTP_UA_MAX];
	char content_type[HTTP_CTYPE_MAX]; /* lower-case, no parameters */
	int64_t content_length;		/* -1 when absent */
	bool chunked;			/* Transfer-Encoding ends in chunked */
	bool conn_close;		/* Connection: close */
	bool expect_continue;		/* Expect: 100-continue */
	bool upgrade;			/* Upgrade header present */
	size_t head_len;		/* bytes through the blank line */
	int n_headers;
	struct http_ctx_headers ctx;
};

/*
 * True when buf starts like an HTTP/1.x request line ("GET /", a known
 * method followed by a space) or a status line ("HTTP/1.").
 * Needs at least 8 bytes to say yes (fewer returns false); the bytes present
 * are judged, so "OPTIONS " or "HTTP/1.1" alone is a yes. A request target
 * must start with '/', '*', 'h'/'H' (absolute form) or, for CONNECT, a host.
 */
bool http_looks_like_request(const uint8_t *buf, size_t len);
/* GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE or PATCH: the
 * methods the kernel side recognises (include/http_start.h). */
bool http_method_known(const char *method);
bool http_looks_like_response(const uint8_t *buf, size_t len);

/* Offset just past the first "\r\n\r\n" (or "\n\n"), or 0 when none. */
size_t http_find_head_end(const uint8_t *buf, size_t len);

/*
 * A struct http_msg for a head, and back when done with it. A message is
 * 7 KiB (its string buffers) and two are made and dropped per exchange,
 * through glibc's slower path for chunks that size (malloc and free were
 * 6-8 % of the agent at saturation), so a few dropped ones are kept per
 * thread for the next. Uninitialised, like
 * malloc's; http_parse_head sets what it needs. Never NULL (aborts).
 */
struct http_msg *http_msg_new(void);
void http_msg_free(struct http_msg *m);

/*
 * Parse one message head at buf[0..len). On HTTP_OK msg->head_len says how
 * many bytes the head took. Header blocks longer than len are
 * HTTP_INCOMPLETE; the caller decides when to give up (header window).
 * A start line or header line already seen to be malformed is HTTP_INVALID
 * even before the head ends. Any token is accepted as a method. obs-fold
 * continuation lines are HTTP_INVALID. Lines past HTTP_MAX_HEADERS are still
 * checked, and Content-Length/Transfer-Encoding there still count (framing
 * depends on them), but nothing else is recorded. msg is only meaningful
 * on HTTP_OK.
 */
enum http_parse_result http_parse_head(const uint8_t *buf, size_t len,
				       struct http_msg *msg);

/* dst = the n bytes at src, cut to fit size (>= 1) and NUL-terminated;
 * returns the length kept. For header values and span strings. */
size_t http_copy_cut(char *dst, size_t size, const void *src, size_t n);

/*
 * Body length after a head: returns true and sets *len when the body has a
 * known length (Content-Length, or 0 for HEAD responses, 1xx/204/304, and
 * requests without Content-Length/chunked). Returns false when the body is
 * chunked or runs until the connection closes. req_method is the method of
 * the request a response answers ("" when unknown).
 */
bool http_body_length(const struct http_msg *msg, const char *req_method,
		      int64_t *len);

/* Incremental chunked-body decoder that also survives bytes it never sees. */
struct http_chunked {
	int state;		/* private */
	uint64_t remaining;	/* bytes left in the current chunk */
	uint32_t line_len;	/* private: bytes of the current size/trailer line */
	bool done;		/* the last chunk and trailers were seen */
	bool lost;		/* a gap made exact decoding impossible */
	uint8_t tail[16];	/* last bytes seen, for the terminator heuristic */
	uint32_t tail_len;
};

void http_chunked_init(struct http_chunked *c);
/*
 * Feed body bytes. Returns the number of bytes consumed (less than len only
 * when the body ended inside buf; the rest belongs to the next message), or
 * -1 on a malformed chunk size line.
 */
long http_chunked_feed(struct http_chunked *c, const uint8_t *buf, size_t len);
/*
 * Feed a gap: n body bytes that were not captured, of which only the last
 * tail_len bytes are known. Exact decoding may be lost; then the body is
 * judged done when the known bytes end with the terminating "0\r\n\r\n".
 */
void http_chunked_gap(struct http_chunked *c, uint64_t n, const uint8_t *tail,
		      size_t tail_len);

/* Case-insensitive compare of a header name of length n with a literal. */
bool http_name_eq(const char *name, size_t n, const char *lit);

#endif /* WEFT_HTTP_H */
