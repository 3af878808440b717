// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x heads and body framing, parsed from bytes copied out of other
 * processes' sockets. Everything here assumes hostile input: one pass, no
 * recursion, no allocation, every copy bounded, and no byte read at or past
 * len. Line endings may be CRLF or bare LF (RFC 9112 2.2 lets recipients
 * accept LF, and enough clients and test tools emit it).
 */
#include <stdlib.h>
#include <string.h>
#include "util.h"
#include "http.h"
#include "http_start.h"

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 5.6.2 tchar, as a table: every byte of every header name goes
 * through it. */
static const bool tchar[256] = {
	['0' ... '9'] = true, ['a' ... 'z'] = true, ['A' ... 'Z'] = true,
	['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true,
	['\''] = true, ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true,
	['^'] = true, ['_'] = true, ['`'] = true, ['|'] = true, ['~'] = true,
};

static bool is_tchar(uint8_t c)
{
	return tchar[c];
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Locale-free, so a setlocale() elsewhere in the agent cannot change it. */
static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool mem_case_eq(const uint8_t *a, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!lit[i] || lower(a[i]) != lower((uint8_t)lit[i]))
			return false;
	return lit[i] == '\0';
}

bool http_name_eq(const char *name, size_t n, const char *lit)
{
	return mem_case_eq((const uint8_t *)name, n, lit);
}

/* The first 8 bytes as include/http_start.h reads them. */
static __u64 load_le64(const uint8_t *p)
{
	__u64 w = 0;

	for (int i = 7; i >= 0; i--)
		w = w << 8 | p[i];
	return w;
}

bool http_method_known(const char *m)
{
	uint8_t word[8] = { 0 };
	size_t n = strlen(m);

	/* "M " is a start word exactly when M is a known method; "HTTP/1."
	 * is the one start word that is no method */
	if (n == 0 || n > 7 || strncmp(m, "HTTP/", 5) == 0)
		return false;
	memcpy(word, m, n);
	word[n] = ' ';
	return weft_http_start_word(load_le64(word));
}

bool http_looks_like_request(const uint8_t *buf, size_t len)
{
	const uint8_t *sp;
	size_t ml;
	uint8_t t;

	/*
	 * Judge only the bytes we have, but never say yes on fewer than 8:
	 * shorter prefixes ("GET ") are too easy to meet in binary protocols.
	 */
	if (len < 8 || !weft_http_start_word(load_le64(buf)) ||
	    memcmp(buf, "HTTP/", 5) == 0)
		return false;
	sp = memchr(buf, ' ', 8);	/* a start word has its space in there */
	ml = sp - buf;
	if (len < ml + 2)
		return true;	/* "OPTIONS " with the target unseen */
	t = buf[ml + 1];
	if (t == '/' || t == '*' || t == 'h' || t == 'H')
		return true;
	/* CONNECT names an authority: host or [v6]. */
	return ml == 7 && memcmp(buf, "CONNECT", 7) == 0 &&
	       ((t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') ||
		is_digit(t) || t == '[');
}

bool http_looks_like_response(const uint8_t *buf, size_t len)
{
	if (len < 8 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    (buf[7] != '0' && buf[7] != '1'))
		return false;
	if (len > 8 && buf[8] != ' ')
		return false;
	return len <= 9 || is_digit(buf[9]);
}

size_t http_find_head_end(const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;

	if (len == 0)
		return 0;
	/* A blank line is LF LF or LF CR LF, which covers CRLFCRLF too. */
	while ((p = memchr(p, '\n', end - p))) {
		size_t i = p - buf;

		if (i >= 1 && buf[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			return i + 1;
		p++;
	}
	return 0;
}

/*
 * Start line. When !complete, line[0..n) is all we have of it so far: a
 * malformation already visible is HTTP_INVALID, running out of bytes is
 * HTTP_INCOMPLETE, so garbage is rejected without waiting for a newline.
 */
#define NEED(k)								\
	do {								\
		if (i + (k) > n)					\
			return complete ? HTTP_INVALID : HTTP_INCOMPLETE; \
	} while (0)

static int parse_version(const uint8_t *p, size_t n, size_t *ip, bool complete,
			 struct http_msg *msg)
{
	static const char lit[] = "HTTP/1.";
	size_t i = *ip;

	for (size_t k = 0; k < sizeof(lit) - 1; k++, i++) {
		NEED(1);
		if (p[i] != (uint8_t)lit[k])
			return HTTP_INVALID;
	}
	NEED(1);
	if (p[i] != '0' && p[i] != '1')
		return HTTP_INVALID;
	msg->version_minor = p[i++] - '0';
	*ip = i;
	return HTTP_OK;
}

static int parse_status_line(const uint8_t *p, size_t n, bool complete,
			     struct http_msg *msg)
{
	size_t i = 0;
	int r = parse_version(p, n, &i, complete, msg);

	if (r != HTTP_OK)
		return r;
	NEED(1);
	if (p[i++] != ' ')
		return HTTP_INVALID;
	for (int k = 0; k < 3; k++, i++) {
		NEED(1);
		if (!is_digit(p[i]))
			return HTTP_INVALID;
		msg->status = msg->status * 10 + (p[i] - '0');
	}
	if (msg->status < 100)
		return HTTP_INVALID;
	if (i < n && p[i++] != ' ')
		return HTTP_INVALID;
	/* reason-phrase: HTAB / SP / VCHAR / obs-text */
	for (; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return HTTP_INVALID;
	return complete ? HTTP_OK : HTTP_INCOMPLETE;
}

static int parse_request_line(const uint8_t *p, size_t n, bool complete,
			      struct http_msg *msg)
{
	size_t i = 0, t = 0;
	int r;

	msg->is_request = true;
	for (; i < n && is_tchar(p[i]); i++) {
		if (i >= HTTP_METHOD_MAX - 1)
			return HTTP_INVALID;
		msg->method[i] = p[i];
	}
	msg->method[i] = '\0';
	NEED(1);
	if (i == 0 || p[i++] != ' ')
		return HTTP_INVALID;
	/* Targets are ASCII by the RFC, but servers take raw UTF-8: so do we. */
	for (; i < n && p[i] > ' ' && p[i] != 0x7f; i++) {
		if (t < HTTP_TARGET_MAX - 1)
			msg->target[t++] = p[i];
		else
			msg->target_truncated = true;
	}
	msg->target[t] = '\0';
	NEED(1);
	if (t == 0 || p[i++] != ' ')
		return HTTP_INVALID;
	r = parse_version(p, n, &i, complete, msg);
	if (r != HTTP_OK)
		return r;
	if (i != n)
		return HTTP_INVALID;
	return complete ? HTTP_OK : HTTP_INCOMPLETE;
}

static int parse_start_line(const uint8_t *p, size_t n, bool complete,
			    struct http_msg *msg)
{
	size_t k = n < 5 ? n : 5;

	/* A CR as the last byte seen may be the first half of CRLF. */
	if (!complete && n && p[n - 1] == '\r')
		n--;
	if (memcmp(p, "HTTP/", k) == 0) {
		if (k < 5)
			return complete ? HTTP_INVALID : HTTP_INCOMPLETE;
		return parse_status_line(p, n, complete, msg);
	}
	return parse_request_line(p, n, complete, msg);
}
#undef NEED

/* Copy a trimmed value, cut to fit (fine for host and user agent). */
size_t http_copy_cut(char *dst, size_t size, const void *src, size_t n)
{
	if (n > size - 1)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/*
 * Next element of a comma-separated list, OWS trimmed; empty elements are
 * skipped as RFC 9110 5.6.1 asks of recipients.
 */
static bool next_elem(const uint8_t *v, size_t n, size_t *i, size_t *s,
		      size_t *len)
{
	size_t e;

	while (*i < n && (is_ows(v[*i]) || v[*i] == ','))
		(*i)++;
	if (*i >= n)
		return false;
	*s = *i;
	while (*i < n && v[*i] != ',')
		(*i)++;
	e = *i;
	while (e > *s && is_ows(v[e - 1]))
		e--;
	*len = e - *s;
	return true;
}

static bool list_has(const uint8_t *v, size_t n, const char *tok)
{
	size_t i = 0, s, len;

	while (next_elem(v, n, &i, &s, &len))
		if (mem_case_eq(v + s, len, tok))
			return true;
	return false;
}

static int set_content_length(struct http_msg *msg, const uint8_t *v, size_t n)
{
	int64_t cl = 0;

	if (n == 0)
		return HTTP_INVALID;
	for (size_t i = 0; i < n; i++) {
		int d = v[i] - '0';

		if (!is_digit(v[i]) || cl > (INT64_MAX - d) / 10)
			return HTTP_INVALID;
		cl = cl * 10 + d;
	}
	/* Differing lengths are the classic request-smuggling ambiguity. */
	if (msg->content_length >= 0 && msg->content_length != cl)
		return HTTP_INVALID;
	msg->content_length = cl;
	return HTTP_OK;
}

/* Trace-context headers we keep, in struct http_ctx_headers order. */
enum {
	CTX_H_B3_TRACEID, CTX_H_B3_SPANID, CTX_H_B3_PARENT, CTX_H_B3_SAMPLED,
	CTX_H_B3_FLAGS, CTX_H_B3, CTX_H_TRACEPARENT, CTX_H_TRACESTATE,
	CTX_H_UBER, CTX_H_N,
};

static const char *const ctx_names[CTX_H_N] = {
	"x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
	"x-b3-flags", "b3", "traceparent", "tracestate", "uber-trace-id",
};

static char *ctx_field(struct http_ctx_headers *h, int k)
{
	char *const f[CTX_H_N] = {
		h->b3_traceid, h->b3_spanid, h->b3_parentspanid, h->b3_sampled,
		h->b3_flags, h->b3, h->traceparent, h->tracestate,
		h->uber_trace_id,
	};

	return f[k];
}

/* What the header lines so far have shown; lives on the parser's stack. */
struct head_state {
	unsigned int ctx_seen;	/* bit per CTX_H_*: first occurrence wins */
	bool host_seen;
	bool ua_seen;
	bool ctype_seen;
};

/* The media type of a Content-Type value (RFC 9110 8.3.1: type "/" subtype
 * *( OWS ";" OWS parameter )), lower-cased, parameters and OWS cut off. A
 * type longer than the field is not kept at all: a prefix would be wrong. */
static void set_content_type(struct http_msg *msg, const uint8_t *v, size_t n)
{
	size_t k = 0;

	while (k < n && v[k] != ';' && !is_ows(v[k]))
		k++;
	if (k >= sizeof(msg->content_type))
		return;
	for (size_t i = 0; i < k; i++)
		msg->content_type[i] = (char)lower(v[i]);
	msg->content_type[k] = '\0';
}

static void set_ctx(struct http_ctx_headers *h, unsigned int *seen, int k,
		    const uint8_t *v, size_t n)
{
	char *dst = ctx_field(h, k);
	size_t have;

	if (*seen & (1u << k)) {
		h->duplicates++;
		if (k == CTX_H_TRACEPARENT)
			h->traceparent_dup = true;
		if (k != CTX_H_TRACESTATE || n == 0)
			return;
		/*
		 * W3C: several tracestate lines are one list. If the joined
		 * list doesn't fit, keep the members we have: dropping whole
		 * members is allowed, cutting one in half is not.
		 */
		have = strlen(dst);
		if (have == 0) {
			if (n <= HTTP_CTX_VALUE_MAX - 1)
				http_copy_cut(dst, HTTP_CTX_VALUE_MAX, v, n);
		} else if (have + 1 + n <= HTTP_CTX_VALUE_MAX - 1) {
			dst[have] = ',';
			http_copy_cut(dst + have + 1, HTTP_CTX_VALUE_MAX - have - 1,
				 v, n);
		}
		return;
	}
	*seen |= 1u << k;
	/* A shortened id is a wrong id: keep nothing rather than a prefix. */
	if (n > HTTP_CTX_VALUE_MAX - 1)
		n = 0;
	http_copy_cut(dst, HTTP_CTX_VALUE_MAX, v, n);
}

/*
 * One header field. Framing headers (Content-Length, Transfer-Encoding) are
 * honoured even past HTTP_MAX_HEADERS, since where the body ends depends on
 * them; everything else is recorded for the first HTTP_MAX_HEADERS only.
 */
/* Header fields the parser acts on; ctx_names follow at HN_CTX + k. */
enum {
	HN_OTHER,
	HN_CONTENT_LENGTH,
	HN_TRANSFER_ENCODING,
	HN_HOST,
	HN_USER_AGENT,
	HN_CONNECTION,
	HN_EXPECT,
	HN_UPGRADE,
	HN_CONTENT_TYPE,
	HN_CTX,
};

static const struct {
	const char *name;
	size_t len;
} known_names[HN_CTX] = {
	[HN_CONTENT_LENGTH] = { "content-length", 14 },
	[HN_TRANSFER_ENCODING] = { "transfer-encoding", 17 },
	[HN_HOST] = { "host", 4 },
	[HN_USER_AGENT] = { "user-agent", 10 },
	[HN_CONNECTION] = { "connection", 10 },
	[HN_EXPECT] = { "expect", 6 },
	[HN_UPGRADE] = { "upgrade", 7 },
	[HN_CONTENT_TYPE] = { "content-type", 12 },
};

/*
 * Which field a name is. Length and first letter rule out nearly every
 * candidate before a byte-wise compare: this ran for every header line of
 * every message, against sixteen names, and was a tenth of the agent's time.
 */
static int header_name_id(const uint8_t *nm, size_t nn)
{
	uint8_t c;

	if (nn < 2 || nn > 17)
		return HN_OTHER;
	c = lower(nm[0]);
	for (int k = 1; k < HN_CTX; k++)
		if (known_names[k].len == nn && known_names[k].name[0] == c &&
		    mem_case_eq(nm, nn, known_names[k].name))
			return k;
	for (int k = 0; k < CTX_H_N; k++)
		if (ctx_names[k][0] == c && mem_case_eq(nm, nn, ctx_names[k]))
			return HN_CTX + k;
	return HN_OTHER;
}

static int header(struct http_msg *msg, struct head_state *st,
		  const uint8_t *nm, size_t nn, const uint8_t *v, size_t vn,
		  bool record)
{
	size_t i = 0, s, len;
	int id = header_name_id(nm, nn);

	if (id == HN_CONTENT_LENGTH)
		return set_content_length(msg, v, vn);
	if (id == HN_TRANSFER_ENCODING) {
		/* Codings of later lines follow those of earlier ones. */
		while (next_elem(v, vn, &i, &s, &len))
			msg->chunked = mem_case_eq(v + s, len, "chunked");
		return HTTP_OK;
	}
	if (!record)
		return HTTP_OK;
	switch (id) {
	case HN_HOST:
		if (!st->host_seen)
			http_copy_cut(msg->host, sizeof(msg->host), v, vn);
		st->host_seen = true;
		break;
	case HN_USER_AGENT:
		if (!st->ua_seen)
			http_copy_cut(msg->user_agent, sizeof(msg->user_agent), v,
				 vn);
		st->ua_seen = true;
		break;
	case HN_CONNECTION:
		if (list_has(v, vn, "close"))
			msg->conn_close = true;
		break;
	case HN_EXPECT:
		if (mem_case_eq(v, vn, "100-continue"))
			msg->expect_continue = true;
		break;
	case HN_UPGRADE:
		msg->upgrade = true;
		break;
	case HN_CONTENT_TYPE:
		if (!st->ctype_seen)
			set_content_type(msg, v, vn);
		st->ctype_seen = true;
		break;
	case HN_OTHER:
		break;
	default:
		set_ctx(&msg->ctx, &st->ctx_seen, id - HN_CTX, v, vn);
	}
	return HTTP_OK;
}

/*
 * A header line without its line ending: name ":" OWS value OWS.
 * Whitespace before the colon is rejected (RFC 9112 5.1: a smuggling
 * vector), as are obs-fold continuation lines (RFC 9112 5.2 lets a
 * recipient reject them; joining them would need a copy of the value, and
 * no client we trace sends them).
 */
static int header_line(struct http_msg *msg, struct head_state *st,
		       const uint8_t *p, size_t n)
{
	size_t i = 0, vs, ve;
	bool record;

	while (i < n && is_tchar(p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ':')
		return HTTP_INVALID;
	vs = i + 1;
	while (vs < n && is_ows(p[vs]))
		vs++;
	ve = n;
	while (ve > vs && is_ows(p[ve - 1]))
		ve--;
	/* RFC 9110 5.5: no CTLs but HTAB (NUL and lone CR are the risky ones) */
	for (size_t k = vs; k < ve; k++)
		if ((p[k] < 0x20 && p[k] != '\t') || p[k] == 0x7f)
			return HTTP_INVALID;
	record = msg->n_headers < HTTP_MAX_HEADERS;
	if (record)
		msg->n_headers++;
	return header(msg, st, p, i, p + vs, ve - vs, record);
}

/*
 * A message as new, without clearing its 7 KiB of string buffers: only
 * their first bytes need to be NUL. The memset was half of the parser's
 * time, twice per exchange. A field added to struct http_msg goes here.
 */
static void msg_reset(struct http_msg *m)
{
	struct http_ctx_headers *c = &m->ctx;

	m->is_request = false;
	m->version_minor = 0;
	m->method[0] = '\0';
	m->target[0] = '\0';
	m->target_truncated = false;
	m->status = 0;
	m->host[0] = '\0';
	m->user_agent[0] = '\0';
	m->content_type[0] = '\0';
	m->content_length = -1;
	m->chunked = false;
	m->conn_close = false;
	m->expect_continue = false;
	m->upgrade = false;
	m->head_len = 0;
	m->n_headers = 0;
	c->b3_traceid[0] = '\0';
	c->b3_spanid[0] = '\0';
	c->b3_parentspanid[0] = '\0';
	c->b3_sampled[0] = '\0';
	c->b3_flags[0] = '\0';
	c->b3[0] = '\0';
	c->traceparent[0] = '\0';
	c->tracestate[0] = '\0';
	c->uber_trace_id[0] = '\0';
	c->duplicates = 0;
	c->traceparent_dup = false;
}

/* Under AddressSanitizer nothing is kept: a message used after its
 * http_msg_free must still be caught there, not hidden by reuse. */
#if defined(__SANITIZE_ADDRESS__)
#define MSG_CACHE_MAX	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSG_CACHE_MAX	0
#endif
#endif
#ifndef MSG_CACHE_MAX
#define MSG_CACHE_MAX	16
#endif

/* Per thread: the pipeline runs on one, and no lock is needed. Cached
 * messages stay reachable from here, so a leak checker does not count
 * them at exit. */
static _Thread_local struct http_msg *msg_cache[MSG_CACHE_MAX + 1];
static _Thread_local int msg_cached;

struct http_msg *http_msg_new(void)
{
	struct http_msg *m;

	if (msg_cached > 0)
		return msg_cache[--msg_cached];
	m = malloc(sizeof(*m));
	if (!m)
		abort();
	return m;
}

void http_msg_free(struct http_msg *m)
{
	if (!m)
		return;
	if (msg_cached < MSG_CACHE_MAX) {
		msg_cache[msg_cached++] = m;
		return;
	}
	free(m);
}

enum http_parse_result http_parse_head(const uint8_t *buf, size_t len,
				       struct http_msg *msg)
{
	struct head_state st = {0};
	size_t pos = 0;
	int r;

	msg_reset(msg);
	if (len == 0)
		return HTTP_INCOMPLETE;
	for (bool first = true;; first = false) {
		const uint8_t *lf = memchr(buf + pos, '\n', len - pos);
		size_t n;

		if (!lf) {
			/* Only the start line is judged before its newline. */
			if (!first)
				return HTTP_INCOMPLETE;
			r = parse_start_line(buf, len, false, msg);
			return r == HTTP_INVALID ? HTTP_INVALID : HTTP_INCOMPLETE;
		}
		n = lf - (buf + pos);
		if (n && buf[pos + n - 1] == '\r')
			n--;
		if (first) {
			r = parse_start_line(buf, n, true, msg);
		} else if (n == 0) {
			msg->head_len = lf - buf + 1;
			return HTTP_OK;
		} else if (is_ows(buf[pos])) {
			r = HTTP_INVALID;	/* obs-fold, see header_line() */
		} else {
			r = header_line(msg, &st, buf + pos, n);
		}
		if (r != HTTP_OK)
			return HTTP_INVALID;
		pos = lf - buf + 1;
	}
}

bool http_body_length(const struct http_msg *msg, const char *req_method,
		      int64_t *len)
{
	if (!msg->is_request) {
		bool head = req_method && strcmp(req_method, "HEAD") == 0;

		if (head || msg->status < 200 || msg->status == 204 ||
		    msg->status == 304) {
			*len = 0;
			return true;
		}
		/* A 2xx to CONNECT turns the connection into a tunnel. */
		if (req_method && strcmp(req_method, "CONNECT") == 0 &&
		    msg->status < 300)
			return false;
	}
	if (msg->chunked)
		return false;
	if (msg->content_length >= 0) {
		*len = msg->content_length;
		return true;
	}
	if (msg->is_request) {
		*len = 0;
		return true;
	}
	return false;	/* the body runs until the connection closes */
}

/*
 * Chunked bodies (RFC 9112 7.1). The decoder is a byte-driven state machine
 * so a body may arrive split anywhere; chunk data is skipped in bulk.
 */
enum {
	CH_SIZE,	/* hex digits of a chunk-size line */
	CH_SIZE_WS,	/* whitespace after the digits */
	CH_EXT,		/* chunk extensions, ignored */
	CH_SIZE_CR,	/* CR ending the size line seen, LF next */
	CH_DATA,	/* inside chunk data: remaining bytes left */
	CH_DATA_CR,	/* CRLF after chunk data expected */
	CH_DATA_LF,
	CH_TRAILER,	/* trailer lines after the last chunk */
	CH_TRAILER_CR,
	CH_DONE,
	CH_ERROR,
};

/* Longest size or trailer line accepted: real ones are a few bytes. */
#define CHUNK_LINE_MAX	4096

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

static void tail_push(struct http_chunked *c, const uint8_t *p, size_t n)
{
	const size_t max = sizeof(c->tail);
	size_t keep;

	if (n >= max) {
		memcpy(c->tail, p + n - max, max);
		c->tail_len = max;
		return;
	}
	keep = c->tail_len < max - n ? c->tail_len : max - n;
	memmove(c->tail, c->tail + c->tail_len - keep, keep);
	memcpy(c->tail + keep, p, n);
	c->tail_len = keep + n;
}

/* Byte at buf[idx]; negative idx reaches back into the tail; -1 unknown. */
static int byte_at(const struct http_chunked *c, const uint8_t *buf, long idx)
{
	if (idx >= 0)
		return buf[idx];
	if ((unsigned long)-idx > c->tail_len)
		return -1;
	return c->tail[c->tail_len + idx];
}

/*
 * Does the last-chunk-without-trailers "0\r\n\r\n" end at buf[e]? The "0"
 * must start a line (follow a LF) or be the first byte we know after a gap.
 */
static bool terminator_at(const struct http_chunked *c, const uint8_t *buf,
			  long e)
{
	static const char term[] = "0\r\n\r\n";
	const long tn = sizeof(term) - 1;
	int before;

	for (long k = 0; k < tn; k++)
		if (byte_at(c, buf, e - tn + 1 + k) != (uint8_t)term[k])
			return false;
	before = byte_at(c, buf, e - tn);
	return before == '\n' || before == -1;
}

/* Lost framing: only watch for the terminator. */
static long lost_feed(struct http_chunked *c, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;
	size_t used = len;

	while ((p = memchr(p, '\n', end - p))) {
		if (terminator_at(c, buf, p - buf)) {
			used = p - buf + 1;
			c->done = true;
			c->state = CH_DONE;
			break;
		}
		p++;
	}
	tail_push(c, buf, used);
	return used;
}

static int size_line_end(struct http_chunked *c)
{
	c->line_len = 0;
	c->state = c->remaining ? CH_DATA : CH_TRAILER;
	return 0;
}

static int trailer_line_end(struct http_chunked *c)
{
	if (c->line_len == 0) {
		c->state = CH_DONE;
		c->done = true;
	}
	c->line_len = 0;
	return 0;
}

static int data_end(struct http_chunked *c)
{
	c->state = CH_SIZE;
	c->line_len = 0;
	return 0;
}

/* One byte of a framing line; 0 ok, -1 malformed. */
static int chunk_byte(struct http_chunked *c, uint8_t b)
{
	int h;

	switch (c->state) {
	case CH_SIZE:
		h = hex_digit(b);
		if (h >= 0) {
			/* Cap at 2^60: no chunk is that big, no overflow. */
			if (c->remaining >> 56)
				return -1;
			c->remaining = c->remaining << 4 | h;
			return ++c->line_len > CHUNK_LINE_MAX ? -1 : 0;
		}
		if (c->line_len == 0)
			return -1;
		if (is_ows(b))
			c->state = CH_SIZE_WS;
		else if (b == ';')
			c->state = CH_EXT;
		else if (b == '\r')
			c->state = CH_SIZE_CR;
		else if (b == '\n')
			return size_line_end(c);
		else
			return -1;
		return 0;
	case CH_SIZE_WS:
		if (b == ';')
			c->state = CH_EXT;
		else if (b == '\r')
			c->state = CH_SIZE_CR;
		else if (b == '\n')
			return size_line_end(c);
		else if (!is_ows(b))
			return -1;
		return ++c->line_len > CHUNK_LINE_MAX ? -1 : 0;
	case CH_EXT:
		if (b == '\r')
			c->state = CH_SIZE_CR;
		else if (b == '\n')
			return size_line_end(c);
		return ++c->line_len > CHUNK_LINE_MAX ? -1 : 0;
	case CH_SIZE_CR:
		return b == '\n' ? size_line_end(c) : -1;
	case CH_DATA_CR:
		if (b == '\r') {
			c->state = CH_DATA_LF;
			return 0;
		}
		/* a bare LF ends the data too */
		return b == '\n' ? data_end(c) : -1;
	case CH_DATA_LF:
		return b == '\n' ? data_end(c) : -1;
	case CH_TRAILER:
		if (b == '\r')
			c->state = CH_TRAILER_CR;
		else if (b == '\n')
			return trailer_line_end(c);
		else if (++c->line_len > CHUNK_LINE_MAX)
			return -1;
		return 0;
	case CH_TRAILER_CR:
		if (b != '\n')
			return -1;
		c->state = CH_TRAILER;
		return trailer_line_end(c);
	default:
		return -1;
	}
}

long http_chunked_feed(struct http_chunked *c, const uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (c->state == CH_ERROR)
		return -1;
	if (c->done || len == 0)
		return 0;
	if (c->lost)
		return lost_feed(c, buf, len);
	while (i < len && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t take = len - i;

			if (take > c->remaining)
				take = c->remaining;
			i += take;
			c->remaining -= take;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		if (chunk_byte(c, buf[i++]) < 0) {
			c->state = CH_ERROR;
			return -1;
		}
	}
	tail_push(c, buf, i);
	return i;
}

void http_chunked_gap(struct http_chunked *c, uint64_t n, const uint8_t *tail,
		      size_t tail_len)
{
	if (c->done || c->state == CH_ERROR || n == 0)
		return;
	if (tail_len > n)
		tail_len = n;
	/* Bytes before the known tail are unknown: the tail restarts. */
	if (tail_len < n)
		c->tail_len = 0;
	if (tail_len)
		tail_push(c, tail, tail_len);
	if (!c->lost && c->state == CH_DATA && n <= c->remaining) {
		/* The gap is all chunk data: framing is still exact. */
		c->remaining -= n;
		if (c->remaining == 0)
			c->state = CH_DATA_CR;
		return;
	}
	c->lost = true;
	/* Index -1 is the last tail byte: the tail alone is judged. */
	if (terminator_at(c, NULL, -1)) {
		c->done = true;
		c->state = CH_DONE;
	}
}
