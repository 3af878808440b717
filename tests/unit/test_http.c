// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for user/http.c: message heads, body length, chunked framing. */
#include <stdint.h>
#include <stdlib.h>
#include "http.h"
#include "test.h"

/* Big enough for the struct's 5 KiB of context headers: keep off the stack. */
static struct http_msg m;

static enum http_parse_result parse(const char *s)
{
	return http_parse_head((const uint8_t *)s, strlen(s), &m);
}

/* Parse from an exact-size heap copy, so ASan sees any read past len. */
static enum http_parse_result parse_n(const void *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	enum http_parse_result r;

	memcpy(b, p, n);
	r = http_parse_head(b, n, &m);
	free(b);
	return r;
}

static bool req(const char *s)
{
	return http_looks_like_request((const uint8_t *)s, strlen(s));
}

static bool resp(const char *s)
{
	return http_looks_like_response((const uint8_t *)s, strlen(s));
}

static size_t head_end(const char *s)
{
	return http_find_head_end((const uint8_t *)s, strlen(s));
}

/* Deterministic xorshift64*, so every run (and failure) is reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* --- detection --------------------------------------------------------- */

static bool test_looks_like_request_methods(void)
{
	static const char *const ok[] = {
		"GET / HTTP/1.1", "HEAD /x HTTP/1.1", "POST /a HTTP/1.1",
		"PUT /a HTTP/1.1", "DELETE /a HTTP/1.1", "OPTIONS * HTTP/1.1",
		"TRACE / HTTP/1.1", "PATCH /p HTTP/1.1",
		"GET http://example.com/ HTTP/1.1",
		"CONNECT example.com:443 HTTP/1.1", "CONNECT [::1]:443 HTTP/1.1",
		"CONNECT 10.0.0.1:443 HTTP/1.1",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECK(req(ok[i]));
	return true;
}

static bool test_looks_like_request_rejects(void)
{
	CHECK(!req("get / HTTP/1.1"));		/* methods are case-sensitive */
	CHECK(!req("GET  / HTTP/1.1"));
	CHECK(!req("GETS / HTTP/1.1"));
	CHECK(!req("GET x HTTP/1.1"));
	CHECK(!req("POST\t/ HTTP/1.1"));
	CHECK(!req("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
	CHECK(!req("FOO / HTTP/1.1"));
	CHECK(!req("GET /"));			/* fewer than 8 bytes */
	CHECK(!req(""));
	CHECK(!req("HTTP/1.1 200 OK"));
	CHECK(!req("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"));
	/* 8 bytes, consistent so far: yes */
	CHECK(req("OPTIONS "));
	CHECK(req("DELETE /"));
	return true;
}

static bool test_looks_like_response(void)
{
	CHECK(resp("HTTP/1.1 200 OK\r\n"));
	CHECK(resp("HTTP/1.0 404 Not Found\r\n"));
	CHECK(resp("HTTP/1.1"));		/* 8 bytes, consistent */
	CHECK(resp("HTTP/1.1 "));
	CHECK(!resp("HTTP/1.1X200"));
	CHECK(!resp("HTTP/1.1 OK"));
	CHECK(!resp("HTTP/2 200\r\n"));
	CHECK(!resp("HTTP/1.2 200 OK"));
	CHECK(!resp("http/1.1 200 OK"));
	CHECK(!resp("HTTP/1."));		/* 7 bytes */
	CHECK(!resp("GET / HTTP/1.1"));
	return true;
}

static bool test_find_head_end(void)
{
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 27);
	CHECK_INT(head_end("GET / HTTP/1.1\nHost: a\n\nBODY"), 24);
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: a\n\r\nX"), 26);
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: a\r\n\nX"), 26);
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: a\r\n"), 0);
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0);
	CHECK_INT(head_end("\r\r\r\r"), 0);
	CHECK_INT(head_end("\n\n"), 2);
	CHECK_INT(http_find_head_end(NULL, 0), 0);
	/* first blank line wins, not a later one */
	CHECK_INT(head_end("A\r\n\r\nB\r\n\r\n"), 5);
	return true;
}

/* --- start lines ------------------------------------------------------- */

static bool test_parse_request_basic(void)
{
	const char *s = "GET /api/v1/items?id=7 HTTP/1.1\r\n"
			"Host: svc-b.default:8080\r\n"
			"User-Agent: Go-http-client/1.1\r\n"
			"Accept-Encoding: gzip\r\n\r\n";

	CHECK_INT(parse(s), HTTP_OK);
	CHECK(m.is_request);
	CHECK_STR(m.method, "GET");
	CHECK_STR(m.target, "/api/v1/items?id=7");
	CHECK(!m.target_truncated);
	CHECK_INT(m.version_minor, 1);
	CHECK_STR(m.host, "svc-b.default:8080");
	CHECK_STR(m.user_agent, "Go-http-client/1.1");
	CHECK_INT(m.content_length, -1);
	CHECK(!m.chunked && !m.conn_close && !m.expect_continue && !m.upgrade);
	CHECK_INT(m.n_headers, 3);
	CHECK_INT(m.head_len, strlen(s));
	CHECK_INT(m.status, 0);
	return true;
}

static bool test_parse_response_basic(void)
{
	const char *s = "HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n"
			"Connection: close\r\n\r\nnot found";

	CHECK_INT(parse(s), HTTP_OK);
	CHECK(!m.is_request);
	CHECK_INT(m.status, 404);
	CHECK_INT(m.version_minor, 0);
	CHECK_INT(m.content_length, 9);
	CHECK(m.conn_close);
	CHECK_INT(m.head_len, strlen(s) - 9);
	CHECK_STR(m.method, "");
	return true;
}

static bool test_status_line_variants(void)
{
	CHECK_INT(parse("HTTP/1.1 204\r\n\r\n"), HTTP_OK);
	CHECK_INT(m.status, 204);
	CHECK_INT(parse("HTTP/1.1 200 \r\n\r\n"), HTTP_OK);
	CHECK_INT(parse("HTTP/1.1 599 Custom\tReason \xc3\xa9\r\n\r\n"), HTTP_OK);
	CHECK_INT(m.status, 599);
	CHECK_INT(parse("HTTP/1.1 100 Continue\r\n\r\n"), HTTP_OK);
	CHECK_INT(m.status, 100);
	return true;
}

static bool test_bad_status_lines(void)
{
	static const char *const bad[] = {
		"HTTP/1.1 20\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1\r\n\r\n",
		"HTTP/1.1 200\tOK\r\n\r\n", "HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/\r\n\r\n", "HTTP\r\n\r\n", "HTTP/1.1 200 OK\rX\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(parse(bad[i]), HTTP_INVALID);
	return true;
}

static bool test_bad_request_lines(void)
{
	static const char *const bad[] = {
		"GET /\r\n\r\n",			/* HTTP/0.9 */
		"GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n",
		"GET / HTTP/1.1 x\r\n\r\n", "GET / HTTP/2.0\r\n\r\n",
		"GET / http/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n", "/ HTTP/1.1\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n", "GET /a\x01z HTTP/1.1\r\n\r\n",
		"GET /a\x7fz HTTP/1.1\r\n\r\n", "GET\t/ HTTP/1.1\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\n\r\n", "\r\n\r\n",
		"ABCDEFGHIJKLMNOPQRSTUVWX / HTTP/1.1\r\n\r\n", /* 24-byte method */
		"GET / HTTP/1.1\r\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != HTTP_INVALID) {
			fprintf(stderr, "  accepted bad[%zu]\n", i);
			return false;
		}
	}
	return true;
}

static bool test_custom_method_and_targets(void)
{
	/* Detection knows nine methods; the parser takes any token. */
	CHECK_INT(parse("PROPFIND /dav HTTP/1.1\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.method, "PROPFIND");
	CHECK_INT(parse("ABCDEFGHIJKLMNOPQRSTUVW / HTTP/1.1\r\n\r\n"), HTTP_OK);
	CHECK_INT(parse("OPTIONS * HTTP/1.1\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.target, "*");
	CHECK_INT(parse("CONNECT db:5432 HTTP/1.1\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.target, "db:5432");
	CHECK_INT(parse("GET http://a/b?c#d HTTP/1.0\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.target, "http://a/b?c#d");
	CHECK_INT(m.version_minor, 0);
	CHECK_INT(parse("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.target, "/caf\xc3\xa9");
	return true;
}

/* --- truncation and incremental input ----------------------------------- */

static const char sample_req[] =
	"POST /orders HTTP/1.1\r\n"
	"Host: orders\r\n"
	"Content-Length: 2\r\n"
	"X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\n"
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	"\r\n";

static const char sample_resp[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: text/plain\r\n"
	"Transfer-Encoding: chunked\r\n"
	"\r\n";

static bool test_every_prefix_incomplete(void)
{
	const char *s[] = { sample_req, sample_resp };

	for (int k = 0; k < 2; k++) {
		size_t n = strlen(s[k]);

		for (size_t i = 0; i < n; i++) {
			if (parse_n(s[k], i) != HTTP_INCOMPLETE) {
				fprintf(stderr, "  prefix %zu of %d\n", i, k);
				return false;
			}
		}
		CHECK_INT(parse_n(s[k], n), HTTP_OK);
		CHECK_INT(m.head_len, n);
	}
	return true;
}

static bool test_incomplete_partial_lines(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n"), HTTP_INCOMPLETE);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n\r"), HTTP_INCOMPLETE);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHo"), HTTP_INCOMPLETE);
	CHECK_INT(parse("GET /very/long/path"), HTTP_INCOMPLETE);
	CHECK_INT(parse("HTTP/1.1 200 OK"), HTTP_INCOMPLETE);
	CHECK_INT(parse("HTT"), HTTP_INCOMPLETE);
	CHECK_INT(parse(""), HTTP_INCOMPLETE);
	return true;
}

static bool test_early_invalid(void)
{
	/* no end of head, but what is there is already not HTTP */
	CHECK_INT(parse("GET / HTTP/3.0\r\nHost: a\r\n"), HTTP_INVALID);
	CHECK_INT(parse("GET / HTTP/1.1 junk"), HTTP_INVALID);
	CHECK_INT(parse("GET /a b"), HTTP_INVALID);
	CHECK_INT(parse("HTTP/1.1 2x"), HTTP_INVALID);
	CHECK_INT(parse("HTTP/1.1 200 OK\x01"), HTTP_INVALID);
	CHECK_INT(parse("GET / HTTP/1.1\r\nBad Header: x\r\n"), HTTP_INVALID);
	CHECK_INT(parse_n("\x16\x03\x01\x00\xa5", 5), HTTP_INVALID);
	CHECK_INT(parse("{\"json\":1}"), HTTP_INVALID);
	/* a lone CR mid-line cannot become CRLF */
	CHECK_INT(parse("GET /\rx"), HTTP_INVALID);
	return true;
}

static bool test_bare_lf(void)
{
	const char *s = "GET /lf HTTP/1.1\nHost: a\nUser-Agent: nc\n\nrest";

	CHECK_INT(parse(s), HTTP_OK);
	CHECK_INT(m.head_len, strlen(s) - 4);
	CHECK_STR(m.host, "a");
	CHECK_STR(m.user_agent, "nc");
	/* mixed endings */
	s = "HTTP/1.1 200 OK\nContent-Length: 3\r\n\nabc";
	CHECK_INT(parse(s), HTTP_OK);
	CHECK_INT(m.head_len, strlen(s) - 3);
	CHECK_INT(m.content_length, 3);
	return true;
}

static bool test_pipelined_head_len(void)
{
	const char *s = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
			"GET /2 HTTP/1.1\r\nHost: b\r\n\r\n"
			"GET /3 HT";
	size_t off;

	CHECK_INT(parse(s), HTTP_OK);
	CHECK_INT(m.head_len, 28);
	CHECK_STR(m.target, "/1");
	off = m.head_len;
	CHECK_INT(parse(s + off), HTTP_OK);
	CHECK_STR(m.target, "/2");
	CHECK_STR(m.host, "b");
	CHECK_INT(m.head_len, 28);
	off += m.head_len;
	CHECK_INT(parse(s + off), HTTP_INCOMPLETE);
	return true;
}

static bool test_head_len_matches_find_head_end(void)
{
	static const char *const heads[] = {
		"GET / HTTP/1.1\r\n\r\nxx",
		"GET / HTTP/1.1\nA: b\n\r\nyy",
		"HTTP/1.1 200 OK\r\nA: b\r\nC: d\n\nzz",
		sample_req, sample_resp,
	};

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		CHECK_INT(parse(heads[i]), HTTP_OK);
		CHECK_INT(m.head_len, head_end(heads[i]));
	}
	return true;
}

/* --- oversized input ---------------------------------------------------- */

static bool test_target_truncated(void)
{
	static char s[4096];
	size_t n;

	strcpy(s, "GET /");
	n = strlen(s);
	memset(s + n, 'a', 3000);
	strcpy(s + n + 3000, " HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_INT(parse(s), HTTP_OK);
	CHECK(m.target_truncated);
	CHECK_INT(strlen(m.target), HTTP_TARGET_MAX - 1);
	CHECK(m.target[0] == '/' && m.target[HTTP_TARGET_MAX - 2] == 'a');
	CHECK_STR(m.host, "h");
	CHECK_INT(m.head_len, strlen(s));

	/* exactly HTTP_TARGET_MAX - 1 bytes fit */
	strcpy(s, "GET /");
	memset(s + 5, 'b', HTTP_TARGET_MAX - 2);
	strcpy(s + 5 + HTTP_TARGET_MAX - 2, " HTTP/1.1\r\n\r\n");
	CHECK_INT(parse(s), HTTP_OK);
	CHECK(!m.target_truncated);
	CHECK_INT(strlen(m.target), HTTP_TARGET_MAX - 1);
	return true;
}

static bool test_huge_header_values(void)
{
	static char s[40000];
	size_t n;

	strcpy(s, "GET / HTTP/1.1\r\nUser-Agent: ");
	n = strlen(s);
	memset(s + n, 'u', 1000);
	n += 1000;
	strcpy(s + n, "\r\nX-Big: ");
	n = strlen(s);
	memset(s + n, 'x', 30000);
	n += 30000;
	strcpy(s + n, "\r\nHost: ");
	n = strlen(s);
	memset(s + n, 'h', 300);
	strcpy(s + n + 300, "\r\n\r\n");
	CHECK_INT(parse(s), HTTP_OK);
	CHECK_INT(strlen(m.user_agent), HTTP_UA_MAX - 1);
	CHECK_INT(strlen(m.host), HTTP_HOST_MAX - 1);
	CHECK_INT(m.head_len, strlen(s));
	CHECK_INT(m.n_headers, 3);
	return true;
}

static bool test_too_many_headers(void)
{
	static char s[16384];
	size_t n;

	strcpy(s, "POST / HTTP/1.1\r\n");
	for (int i = 0; i < 200; i++) {
		n = strlen(s);
		if (i == 150)
			snprintf(s + n, sizeof(s) - n, "Content-Length: 12\r\n");
		else if (i == 151)
			snprintf(s + n, sizeof(s) - n, "Host: late\r\n");
		else if (i == 152)
			snprintf(s + n, sizeof(s) - n, "b3: 1\r\n");
		else
			snprintf(s + n, sizeof(s) - n, "X-H%d: v\r\n", i);
	}
	strcat(s, "\r\n");
	CHECK_INT(parse(s), HTTP_OK);
	CHECK_INT(m.n_headers, HTTP_MAX_HEADERS);
	CHECK_INT(m.head_len, strlen(s));
	/* not recorded past the limit ... */
	CHECK_STR(m.host, "");
	CHECK_STR(m.ctx.b3, "");
	/* ... but the body framing still holds */
	CHECK_INT(m.content_length, 12);
	/* syntax is still checked past the limit */
	n = strlen(s);
	strcpy(s + n - 2, "Bad Name: x\r\n\r\n");
	CHECK_INT(parse(s), HTTP_INVALID);
	return true;
}

/* --- header syntax ----------------------------------------------------- */

static bool test_header_syntax_errors(void)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost a\r\n\r\n",
		"GET / HTTP/1.1\r\n: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHo\xc3\xa9st: a\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n",	/* fold, first line */
		"GET / HTTP/1.1\r\nX-A: b\r\n  c\r\n\r\n",	/* obs-fold */
		"GET / HTTP/1.1\r\nX-A: b\r\n\tc\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: b\rc\r\n\r\n",	/* lone CR */
		"GET / HTTP/1.1\r\nX-A: b\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: \x1b[31m\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != HTTP_INVALID) {
			fprintf(stderr, "  accepted bad[%zu]\n", i);
			return false;
		}
	}
	/* NUL inside a value */
	CHECK_INT(parse_n("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 28),
		  HTTP_INVALID);
	/* every byte at every place of a value longer than the parser's
	 * 8-byte steps: only CTLs but HTAB, and DEL, are refused (CR and LF
	 * end the line: a lone CR is refused, an LF starts the next one) */
	for (int b = 0; b < 256; b++) {
		for (int at = 0; at < 21; at++) {
			char v[22];
			uint8_t msg[96];
			size_t n;
			bool bad_byte = (b < 0x20 && b != '\t') || b == 0x7f;

			if (b == '\n')
				continue;
			memset(v, 'a', 21);
			v[21] = '\0';
			n = (size_t)snprintf((char *)msg, sizeof(msg),
					     "GET / HTTP/1.1\r\nX-A: z%sz\r\n\r\n", v);
			msg[22 + at] = (uint8_t)b;	/* after "GET ...\r\nX-A: z" */
			if (parse_n((const char *)msg, n) != (bad_byte ? HTTP_INVALID : HTTP_OK)) {
				fprintf(stderr, "  byte 0x%02x at %d misjudged\n", b, at);
				return false;
			}
		}
	}
	return true;
}

static bool test_header_values_trimmed(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: \t a.b \t \r\n"
			"X-Empty:\r\nX-Tab:\tin\tside\t\r\n"
			"User-Agent: caf\xc3\xa9 1.0\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.host, "a.b");
	CHECK_STR(m.user_agent, "caf\xc3\xa9 1.0");
	CHECK_INT(m.n_headers, 4);
	return true;
}

static bool test_mixed_case_names(void)
{
	CHECK_INT(parse("POST / HTTP/1.1\r\nhOsT: h\r\nUSER-AGENT: u\r\n"
			"content-LENGTH: 4\r\nCONNECTION: Close\r\n"
			"eXpEcT: 100-CONTINUE\r\nuPgRaDe: h2c\r\n"
			"X-b3-TRACEID: 463ac35c9f6413ad\r\nTRACEPARENT: tp\r\n"
			"\r\n"), HTTP_OK);
	CHECK_STR(m.host, "h");
	CHECK_STR(m.user_agent, "u");
	CHECK_INT(m.content_length, 4);
	CHECK(m.conn_close && m.expect_continue && m.upgrade);
	CHECK_STR(m.ctx.b3_traceid, "463ac35c9f6413ad");
	CHECK_STR(m.ctx.traceparent, "tp");
	CHECK(http_name_eq("Content-Type", 12, "content-type"));
	CHECK(http_name_eq("X-B3-SPANID", 11, "x-b3-spanid"));
	CHECK(!http_name_eq("Content-Typ", 11, "content-type"));
	CHECK(!http_name_eq("Content-Types", 13, "content-type"));
	CHECK(http_name_eq("", 0, ""));
	return true;
}

static bool test_host_and_ua_first_wins(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: first\r\nUser-Agent: a\r\n"
			"host: second\r\nUser-Agent: b\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.host, "first");
	CHECK_STR(m.user_agent, "a");
	return true;
}

static bool test_content_length(void)
{
	static const struct {
		const char *v;
		int64_t want;	/* -2: invalid */
	} t[] = {
		{ "0", 0 }, { "42", 42 }, { "007", 7 },
		{ "9223372036854775807", INT64_MAX },
		{ "9223372036854775808", -2 }, { "99999999999999999999", -2 },
		{ "-1", -2 }, { "+5", -2 }, { "", -2 }, { "0x10", -2 },
		{ "1 2", -2 }, { "5, 5", -2 }, { "4a", -2 },
	};
	char s[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum http_parse_result r;

		snprintf(s, sizeof(s),
			 "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", t[i].v);
		r = parse(s);
		if (t[i].want == -2) {
			CHECK_INT(r, HTTP_INVALID);
		} else {
			CHECK_INT(r, HTTP_OK);
			CHECK_INT(m.content_length, t[i].want);
		}
	}
	return true;
}

static bool test_content_length_duplicates(void)
{
	CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
			"content-length: 5\r\n\r\n"), HTTP_OK);
	CHECK_INT(m.content_length, 5);
	CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
			"Content-Length: 6\r\n\r\n"), HTTP_INVALID);
	CHECK_INT(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
			"Content-Length: 10\r\n\r\n"), HTTP_INVALID);
	return true;
}

static bool test_transfer_encoding(void)
{
	static const struct {
		const char *h;
		bool chunked;
	} t[] = {
		{ "Transfer-Encoding: chunked\r\n", true },
		{ "Transfer-Encoding: CHUNKED\r\n", true },
		{ "Transfer-Encoding: gzip, chunked\r\n", true },
		{ "Transfer-Encoding: chunked, gzip\r\n", false },
		{ "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", true },
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", false },
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: \r\n", true },
		{ "Transfer-Encoding: , chunked ,, \r\n", true },
		{ "Transfer-Encoding: xchunked\r\n", false },
		{ "Transfer-Encoding: chunkedx\r\n", false },
		{ "X-Transfer-Encoding: chunked\r\n", false },
	};
	char s[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\n%s\r\n", t[i].h);
		CHECK_INT(parse(s), HTTP_OK);
		if (m.chunked != t[i].chunked) {
			fprintf(stderr, "  case %zu\n", i);
			return false;
		}
	}
	return true;
}

static bool test_connection_expect_upgrade(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n"),
		  HTTP_OK);
	CHECK(m.conn_close);
	CHECK_INT(parse("GET / HTTP/1.1\r\nConnection: closed, upgrade\r\n\r\n"),
		  HTTP_OK);
	CHECK(!m.conn_close);
	CHECK_INT(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n"
			"Connection: close\r\n\r\n"), HTTP_OK);
	CHECK(m.conn_close);
	CHECK_INT(parse("PUT / HTTP/1.1\r\nExpect: 100-continue\r\n"
			"Content-Length: 1\r\n\r\n"), HTTP_OK);
	CHECK(m.expect_continue);
	CHECK_INT(parse("PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"), HTTP_OK);
	CHECK(!m.expect_continue);
	CHECK_INT(parse("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\n\r\n"), HTTP_OK);
	CHECK(m.upgrade && !m.conn_close);
	return true;
}

/* --- trace-context headers ---------------------------------------------- */

static bool test_ctx_headers_copied(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\n"
			"x-b3-traceid:  80f198ee56343ba864fe8b2a57d3eff7 \r\n"
			"X-B3-SpanId: e457b5a2e4d86bd1\r\n"
			"X-B3-ParentSpanId:\t05e3ac9a4f6e3b90\t\r\n"
			"X-B3-Sampled: 1\r\nX-B3-Flags: 1\r\n"
			"B3: a-b-1\r\n"
			"traceparent: 00-aa-bb-01\r\ntracestate: k=v\r\n"
			"Uber-Trace-Id: 1:2:0:1\r\n\r\n"), HTTP_OK);
	CHECK_STR(m.ctx.b3_traceid, "80f198ee56343ba864fe8b2a57d3eff7");
	CHECK_STR(m.ctx.b3_spanid, "e457b5a2e4d86bd1");
	CHECK_STR(m.ctx.b3_parentspanid, "05e3ac9a4f6e3b90");
	CHECK_STR(m.ctx.b3_sampled, "1");
	CHECK_STR(m.ctx.b3_flags, "1");
	CHECK_STR(m.ctx.b3, "a-b-1");
	CHECK_STR(m.ctx.traceparent, "00-aa-bb-01");
	CHECK_STR(m.ctx.tracestate, "k=v");
	CHECK_STR(m.ctx.uber_trace_id, "1:2:0:1");
	CHECK_INT(m.ctx.duplicates, 0);
	CHECK(!m.ctx.traceparent_dup);
	return true;
}

static bool test_ctx_duplicates(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\n"
			"X-B3-TraceId: first\r\nx-b3-traceid: second\r\n"
			"b3: one\r\nb3: two\r\n"
			"traceparent: tp1\r\nTraceparent: tp2\r\n"
			"tracestate: a=1\r\ntracestate:\r\ntracestate: b=2 \r\n"
			"\r\n"), HTTP_OK);
	CHECK_STR(m.ctx.b3_traceid, "first");
	CHECK_STR(m.ctx.b3, "one");
	CHECK_STR(m.ctx.traceparent, "tp1");
	CHECK(m.ctx.traceparent_dup);
	CHECK_STR(m.ctx.tracestate, "a=1,b=2");
	CHECK_INT(m.ctx.duplicates, 5);
	return true;
}

static bool test_ctx_value_too_long(void)
{
	static char s[4096];
	size_t n;

	/* 511 bytes fit, 512 would be cut: an id cut short is dropped */
	strcpy(s, "GET / HTTP/1.1\r\nb3: ");
	n = strlen(s);
	memset(s + n, 'a', HTTP_CTX_VALUE_MAX - 1);
	n += HTTP_CTX_VALUE_MAX - 1;
	strcpy(s + n, "\r\ntraceparent: ");
	n = strlen(s);
	memset(s + n, 'b', HTTP_CTX_VALUE_MAX);
	n += HTTP_CTX_VALUE_MAX;
	strcpy(s + n, "\r\ntraceparent: 00-late\r\n\r\n");
	CHECK_INT(parse(s), HTTP_OK);
	CHECK_INT(strlen(m.ctx.b3), HTTP_CTX_VALUE_MAX - 1);
	CHECK_STR(m.ctx.traceparent, "");
	CHECK(m.ctx.traceparent_dup);	/* the long one still counted */
	return true;
}

static bool test_tracestate_combine_overflow(void)
{
	static char s[4096];
	size_t n;

	strcpy(s, "GET / HTTP/1.1\r\ntracestate: k=");
	n = strlen(s);
	memset(s + n, 'x', 400);
	strcpy(s + n + 400, "\r\ntracestate: j=");
	n = strlen(s);
	memset(s + n, 'y', 200);
	strcpy(s + n + 200, "\r\n\r\n");
	CHECK_INT(parse(s), HTTP_OK);
	/* the second list would not fit: whole members dropped, none cut */
	CHECK_INT(strlen(m.ctx.tracestate), 402);
	CHECK(strchr(m.ctx.tracestate, ',') == NULL);
	CHECK_INT(m.ctx.duplicates, 1);
	return true;
}

/* --- body length -------------------------------------------------------- */

static bool test_body_length(void)
{
	int64_t len = -7;

	CHECK_INT(parse("GET / HTTP/1.1\r\n\r\n"), HTTP_OK);
	CHECK(http_body_length(&m, "", &len) && len == 0);
	CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), HTTP_OK);
	CHECK(http_body_length(&m, "", &len) && len == 12);
	CHECK_INT(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			"Content-Length: 12\r\n\r\n"), HTTP_OK);
	CHECK(!http_body_length(&m, "", &len));	/* TE overrides CL */

	CHECK_INT(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), HTTP_OK);
	CHECK(http_body_length(&m, "GET", &len) && len == 5);
	CHECK(http_body_length(&m, "HEAD", &len) && len == 0);
	CHECK(http_body_length(&m, NULL, &len) && len == 5);
	CHECK_INT(parse("HTTP/1.1 200 OK\r\n\r\n"), HTTP_OK);
	CHECK(!http_body_length(&m, "GET", &len));	/* until close */
	CHECK(!http_body_length(&m, "CONNECT", &len));	/* tunnel */
	CHECK_INT(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
		  HTTP_OK);
	CHECK(!http_body_length(&m, "GET", &len));
	CHECK(http_body_length(&m, "HEAD", &len) && len == 0);

	static const char *const empty[] = {
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		len = -7;
		CHECK_INT(parse(empty[i]), HTTP_OK);
		CHECK(http_body_length(&m, "GET", &len) && len == 0);
	}
	return true;
}

/* --- chunked bodies ----------------------------------------------------- */

static const char chunked_body[] =
	"4;name=value\r\nWiki\r\n"
	"5 ; a=\"b c\"\r\npedia\r\n"
	"E\r\n in\r\n\r\nchunks.\r\n"
	"0;last\r\nExpires: never\r\nX-Trailer: t\r\n\r\n";

static long feed(struct http_chunked *c, const char *s)
{
	return http_chunked_feed(c, (const uint8_t *)s, strlen(s));
}

static long feed_n(struct http_chunked *c, const void *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	long r;

	memcpy(b, p, n);
	r = http_chunked_feed(c, b, n);
	free(b);
	return r;
}

static bool test_chunked_simple(void)
{
	struct http_chunked c;

	http_chunked_init(&c);
	CHECK_INT(feed(&c, "5\r\nhello\r\n0\r\n\r\n"), 15);
	CHECK(c.done && !c.lost);
	CHECK_INT(feed(&c, "more"), 0);		/* nothing after the end */
	http_chunked_init(&c);
	CHECK_INT(feed(&c, "0\r\n\r\n"), 5);
	CHECK(c.done);
	return true;
}

static bool test_chunked_extensions_trailers(void)
{
	struct http_chunked c;

	http_chunked_init(&c);
	CHECK_INT(feed(&c, chunked_body), strlen(chunked_body));
	CHECK(c.done && !c.lost);
	return true;
}

static bool test_chunked_hex_sizes(void)
{
	struct http_chunked c;

	http_chunked_init(&c);
	CHECK_INT(feed(&c, "a\r\n0123456789\r\nA\r\n0123456789\r\n"
			   "0000\r\n\r\n"), 38);
	CHECK(c.done);
	http_chunked_init(&c);
	CHECK_INT(feed(&c, "1F\r\n"), 4);
	CHECK_INT(c.remaining, 31);
	return true;
}

static bool test_chunked_bare_lf(void)
{
	struct http_chunked c;

	http_chunked_init(&c);
	CHECK_INT(feed(&c, "3\nabc\n0\n\n"), 9);
	CHECK(c.done);
	return true;
}

static bool test_chunked_pipelined(void)
{
	struct http_chunked c;
	const char *s = "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";

	http_chunked_init(&c);
	CHECK_INT(feed(&c, s), 13);
	CHECK(c.done);
	CHECK_INT(parse(s + 13), HTTP_OK);
	return true;
}

static bool test_chunked_byte_at_a_time(void)
{
	struct http_chunked c;
	char s[256];
	size_t n = strlen(chunked_body);

	snprintf(s, sizeof(s), "%sGET / HTTP/1.1\r\n\r\n", chunked_body);
	http_chunked_init(&c);
	for (size_t i = 0; i < strlen(s); i++) {
		long r = feed_n(&c, s + i, 1);

		CHECK_INT(r, i < n ? 1 : 0);
		CHECK(c.done == (i >= n - 1));
	}
	return true;
}

static bool test_chunked_all_splits(void)
{
	char s[256];
	size_t body = strlen(chunked_body), n;

	snprintf(s, sizeof(s), "%sNEXT", chunked_body);
	n = strlen(s);
	/* every pair of cut points: three pieces */
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			struct http_chunked c;
			long r1, r2, r3;

			http_chunked_init(&c);
			r1 = feed_n(&c, s, a);
			r2 = feed_n(&c, s + a, b - a);
			r3 = feed_n(&c, s + b, n - b);
			if (r1 < 0 || r2 < 0 || r3 < 0 ||
			    (size_t)(r1 + r2 + r3) != body || !c.done || c.lost) {
				fprintf(stderr, "  split %zu,%zu: %ld %ld %ld\n",
					a, b, r1, r2, r3);
				return false;
			}
			CHECK(memcmp(c.tail, chunked_body + body - 16, 16) == 0);
		}
	}
	return true;
}

static bool test_chunked_malformed(void)
{
	static const char *const bad[] = {
		"x\r\n", "\r\n", ";ext\r\n", "5\r\nhelloX", "5\r\nhello\r\r",
		"5\rX", "5 x\r\n", "-5\r\n", "fffffffffffffffff\r\n",
		"3\r\nabc\r\n0\r\nTrailer\rX",
	};
	struct http_chunked c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		http_chunked_init(&c);
		if (feed(&c, bad[i]) != -1) {
			fprintf(stderr, "  accepted bad[%zu]\n", i);
			return false;
		}
		CHECK_INT(feed(&c, "0\r\n\r\n"), -1);	/* stays broken */
		CHECK(!c.done);
	}
	/* the largest sane size is fine */
	http_chunked_init(&c);
	CHECK_INT(feed(&c, "0fffffffffffffff\r\n"), 18);
	CHECK(c.remaining == 0x0fffffffffffffffull);
	return true;
}

static bool test_chunked_line_limits(void)
{
	static char s[10000];
	struct http_chunked c;

	/* a size line with 5000 bytes of extensions */
	strcpy(s, "5;");
	memset(s + 2, 'e', 5000);
	strcpy(s + 5002, "\r\nhello\r\n0\r\n\r\n");
	http_chunked_init(&c);
	CHECK_INT(feed(&c, s), -1);
	/* and a trailer line as long */
	strcpy(s, "0\r\nX-T: ");
	memset(s + 8, 't', 5000);
	strcpy(s + 5008, "\r\n\r\n");
	http_chunked_init(&c);
	CHECK_INT(feed(&c, s), -1);
	/* a long but bounded extension is fine */
	strcpy(s, "5;");
	memset(s + 2, 'e', 4000);
	strcpy(s + 4002, "\r\nhello\r\n0\r\n\r\n");
	http_chunked_init(&c);
	CHECK_INT(feed(&c, s), strlen(s));
	CHECK(c.done);
	return true;
}

static bool test_chunked_gap_inside_data(void)
{
	struct http_chunked c;

	http_chunked_init(&c);
	CHECK_INT(feed(&c, "10\r\nabcd"), 8);
	CHECK_INT(c.remaining, 12);
	/* 10 bytes not captured, all of them chunk data: still exact */
	http_chunked_gap(&c, 10, (const uint8_t *)"klmn", 4);
	CHECK(!c.lost);
	CHECK_INT(c.remaining, 2);
	CHECK_INT(feed(&c, "op\r\n0\r\n\r\nNEXT"), 9);
	CHECK(c.done && !c.lost);

	/* a gap ending exactly at the chunk's end */
	http_chunked_init(&c);
	CHECK_INT(feed(&c, "8\r\n"), 3);
	http_chunked_gap(&c, 8, NULL, 0);
	CHECK(!c.lost);
	CHECK_INT(feed(&c, "\r\n2\r\nxy\r\n0\r\n\r\n"), 14);
	CHECK(c.done);
	return true;
}

static bool test_chunked_gap_over_size_line(void)
{
	struct http_chunked c;
	const char *t = "data\r\n0\r\n\r\n";

	http_chunked_init(&c);
	CHECK_INT(feed(&c, "4\r\nabcd"), 7);
	/* the gap runs past the chunk: the next size line is unseen */
	http_chunked_gap(&c, 100, (const uint8_t *)"xyz\r\n", 5);
	CHECK(c.lost && !c.done);
	/* lost: only the terminator is looked for, stopping right at it */
	CHECK_INT(feed(&c, "more data 10\r\n\r\n"), 16);
	CHECK(!c.done);	/* "10\r\n\r\n": the 0 does not start a line */
	CHECK_INT(feed(&c, "abc\r\n0\r\n\r\nGET / HTTP/1.1"), 10);
	CHECK(c.done);

	/* the tail of a gap alone can end the body */
	http_chunked_init(&c);
	http_chunked_gap(&c, 500, (const uint8_t *)t, strlen(t));
	CHECK(c.lost && c.done);
	CHECK_INT(feed(&c, "GET"), 0);

	/* a tail that is only the terminator: nothing known before it */
	http_chunked_init(&c);
	http_chunked_gap(&c, 500, (const uint8_t *)"0\r\n\r\n", 5);
	CHECK(c.done);

	/* the "0" must start a line */
	http_chunked_init(&c);
	http_chunked_gap(&c, 500, (const uint8_t *)"x10\r\n\r\n", 7);
	CHECK(c.lost && !c.done);
	return true;
}

static bool test_chunked_lost_terminator_across_feeds(void)
{
	struct http_chunked c;

	http_chunked_init(&c);
	http_chunked_gap(&c, 64, (const uint8_t *)"zz\r\n", 4);
	CHECK(c.lost);
	CHECK_INT(feed(&c, "0"), 1);
	CHECK_INT(feed(&c, "\r\n"), 2);
	CHECK(!c.done);
	CHECK_INT(feed(&c, "\r"), 1);
	CHECK_INT(feed(&c, "\nNEXT"), 1);
	CHECK(c.done);

	/* terminator split between a gap's tail and the next feed */
	http_chunked_init(&c);
	CHECK_INT(feed(&c, "2\r\n"), 3);
	http_chunked_gap(&c, 64, (const uint8_t *)"ok\r\n0\r", 6);
	CHECK(c.lost && !c.done);
	CHECK_INT(feed(&c, "\n\r\nX"), 3);
	CHECK(c.done);
	return true;
}

static bool test_chunked_tail_kept(void)
{
	struct http_chunked c;
	const char *s = "20\r\n0123456789abcdefghijklmnopqrstuv";

	http_chunked_init(&c);
	CHECK_INT(feed(&c, "1"), 1);
	CHECK_INT(c.tail_len, 1);
	CHECK(c.tail[0] == '1');
	http_chunked_init(&c);
	CHECK_INT(feed(&c, s), strlen(s));
	CHECK_INT(c.tail_len, 16);
	CHECK(memcmp(c.tail, s + strlen(s) - 16, 16) == 0);
	/* a gap with a short known tail restarts the tail */
	http_chunked_gap(&c, 10, (const uint8_t *)"AB", 2);
	CHECK_INT(c.tail_len, 2);
	/* a gap that is entirely known continues it */
	http_chunked_gap(&c, 3, (const uint8_t *)"CDE", 3);
	CHECK_INT(c.tail_len, 5);
	CHECK(memcmp(c.tail, "ABCDE", 5) == 0);
	return true;
}

/* --- hostile input ------------------------------------------------------ */

static bool test_tls_and_binary_rejected(void)
{
	/* start of a TLS 1.2 ClientHello record */
	static const uint8_t hello[] = {
		0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03,
		0x03, 0x5b, 0x1e, 0x0a, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x00,
	};
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const uint8_t zeros[64];

	CHECK(!http_looks_like_request(hello, sizeof(hello)));
	CHECK(!http_looks_like_response(hello, sizeof(hello)));
	CHECK_INT(parse_n(hello, sizeof(hello)), HTTP_INVALID);
	CHECK_INT(parse(h2), HTTP_INVALID);
	CHECK_INT(parse_n(zeros, sizeof(zeros)), HTTP_INVALID);
	CHECK_INT(parse_n("\n\n\n\n", 4), HTTP_INVALID);
	CHECK_INT(parse_n("SSH-2.0-OpenSSH_9.2\r\n", 21), HTTP_INVALID);
	CHECK_INT(parse_n("*3\r\n$3\r\nSET\r\n", 13), HTTP_INVALID);
	return true;
}

static bool test_random_bytes_rejected(void)
{
	uint8_t buf[512];

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = rnd() % sizeof(buf) + 1;
		struct http_chunked c;

		for (size_t i = 0; i < n; i++)
			buf[i] = rnd();
		/* a few random bytes can still be the start of a method */
		if (n >= 16)
			CHECK_INT(parse_n(buf, n), HTTP_INVALID);
		else
			CHECK(parse_n(buf, n) != HTTP_OK);
		CHECK(!http_looks_like_request(buf, n));
		CHECK(!http_looks_like_response(buf, n));
		(void)http_find_head_end(buf, n);
		http_chunked_init(&c);
		CHECK(feed_n(&c, buf, n) <= (long)n);
	}
	return true;
}

/* Everything a successful parse promises, checked after each mutation. */
static bool msg_sane(const uint8_t *b, size_t n, enum http_parse_result r)
{
	int64_t len;

	CHECK(r == HTTP_OK || r == HTTP_INCOMPLETE || r == HTTP_INVALID);
	if (r != HTTP_OK)
		return true;
	CHECK(m.head_len > 0 && m.head_len <= n);
	CHECK(b[m.head_len - 1] == '\n');
	CHECK_INT(http_find_head_end(b, n), m.head_len);
	CHECK(strnlen(m.method, HTTP_METHOD_MAX) < HTTP_METHOD_MAX);
	CHECK(strnlen(m.target, HTTP_TARGET_MAX) < HTTP_TARGET_MAX);
	CHECK(strnlen(m.host, HTTP_HOST_MAX) < HTTP_HOST_MAX);
	CHECK(strnlen(m.user_agent, HTTP_UA_MAX) < HTTP_UA_MAX);
	CHECK(strnlen(m.ctx.tracestate, HTTP_CTX_VALUE_MAX) < HTTP_CTX_VALUE_MAX);
	CHECK(strnlen(m.ctx.b3, HTTP_CTX_VALUE_MAX) < HTTP_CTX_VALUE_MAX);
	CHECK(m.n_headers >= 0 && m.n_headers <= HTTP_MAX_HEADERS);
	CHECK(m.content_length >= -1);
	CHECK(m.version_minor == 0 || m.version_minor == 1);
	CHECK(m.is_request || (m.status >= 100 && m.status <= 999));
	if (http_body_length(&m, "GET", &len))
		CHECK(len >= 0);
	return true;
}

static bool test_fuzz_mutated_requests(void)
{
	static const char base[] =
		"POST /v1/orders?x=1 HTTP/1.1\r\n"
		"Host: orders.default.svc:8080\r\n"
		"User-Agent: Go-http-client/1.1\r\n"
		"Content-Length: 27\r\n"
		"Transfer-Encoding: gzip, chunked\r\n"
		"Connection: keep-alive, close\r\n"
		"X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\n"
		"X-B3-SpanId: e457b5a2e4d86bd1\r\n"
		"b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n"
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
		"tracestate: a=1\r\ntracestate: b=2\r\n"
		"\r\n{\"item\":42}";
	static const uint8_t special[] = ":  \r\n\t,;\0-/0123456789HTTP";
	uint8_t buf[sizeof(base) + 64];
	int ok = 0, invalid = 0, incomplete = 0;

	rng_state = 0x5eed5eed12345678ull;
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = sizeof(base) - 1;
		int ops = 1 + rnd() % 4;
		enum http_parse_result r;
		uint8_t *b;

		memcpy(buf, base, n);
		for (int k = 0; k < ops; k++) {
			size_t at = rnd() % (n + 1);
			uint8_t v = rnd() % 2 ? rnd() :
					special[rnd() % (sizeof(special) - 1)];

			switch (rnd() % 4) {
			case 0:
				if (at < n)
					buf[at] = v;
				break;
			case 1:
				if (n + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = v;
					n++;
				}
				break;
			case 2:
				if (at < n) {
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
				}
				break;
			case 3:
				if (rnd() % 8 == 0)
					n = at;	/* truncation */
				break;
			}
		}
		b = malloc(n ? n : 1);
		memcpy(b, buf, n);
		r = http_parse_head(b, n, &m);
		if (!msg_sane(b, n, r)) {
			fprintf(stderr, "  iteration %d\n", iter);
			free(b);
			return false;
		}
		/* every proper prefix of a good head is incomplete, not bad */
		if (r == HTTP_OK) {
			size_t cut = rnd() % m.head_len;

			if (http_parse_head(b, cut, &m) != HTTP_INCOMPLETE) {
				fprintf(stderr, "  iteration %d cut %zu\n",
					iter, cut);
				free(b);
				return false;
			}
		}
		free(b);
		ok += r == HTTP_OK;
		invalid += r == HTTP_INVALID;
		incomplete += r == HTTP_INCOMPLETE;
	}
	/* the mutations must exercise all three outcomes to mean anything */
	CHECK(ok > 1000 && invalid > 1000 && incomplete > 100);
	return true;
}

static bool test_fuzz_chunked(void)
{
	uint8_t buf[sizeof(chunked_body) + 32];

	rng_state = 0xc0ffee1234567ull;
	for (int iter = 0; iter < 100000; iter++) {
		size_t n = sizeof(chunked_body) - 1, pos = 0;
		struct http_chunked c;

		memcpy(buf, chunked_body, n);
		for (int k = 1 + rnd() % 3; k > 0; k--)
			buf[rnd() % n] = rnd() % 2 ? (uint8_t)rnd() :
						    (uint8_t)"0\r\n;a9F"[rnd() % 7];
		http_chunked_init(&c);
		while (pos < n) {
			size_t piece = 1 + rnd() % (n - pos);
			long r;

			if (rnd() % 10 == 0) {
				/* a gap whose last few bytes are known */
				size_t t = rnd() % (piece + 1);

				if (t > 16)
					t = 16;
				http_chunked_gap(&c, piece, buf + pos + piece - t, t);
				pos += piece;
				continue;
			}
			r = feed_n(&c, buf + pos, piece);
			CHECK(r >= -1 && r <= (long)piece);
			CHECK(c.tail_len <= sizeof(c.tail));
			if (r < 0 || (size_t)r < piece)
				break;
			pos += piece;
		}
	}
	return true;
}

int main(void)
{
	RUN(test_looks_like_request_methods);
	RUN(test_looks_like_request_rejects);
	RUN(test_looks_like_response);
	RUN(test_find_head_end);
	RUN(test_parse_request_basic);
	RUN(test_parse_response_basic);
	RUN(test_status_line_variants);
	RUN(test_bad_status_lines);
	RUN(test_bad_request_lines);
	RUN(test_custom_method_and_targets);
	RUN(test_every_prefix_incomplete);
	RUN(test_incomplete_partial_lines);
	RUN(test_early_invalid);
	RUN(test_bare_lf);
	RUN(test_pipelined_head_len);
	RUN(test_head_len_matches_find_head_end);
	RUN(test_target_truncated);
	RUN(test_huge_header_values);
	RUN(test_too_many_headers);
	RUN(test_header_syntax_errors);
	RUN(test_header_values_trimmed);
	RUN(test_mixed_case_names);
	RUN(test_host_and_ua_first_wins);
	RUN(test_content_length);
	RUN(test_content_length_duplicates);
	RUN(test_transfer_encoding);
	RUN(test_connection_expect_upgrade);
	RUN(test_ctx_headers_copied);
	RUN(test_ctx_duplicates);
	RUN(test_ctx_value_too_long);
	RUN(test_tracestate_combine_overflow);
	RUN(test_body_length);
	RUN(test_chunked_simple);
	RUN(test_chunked_extensions_trailers);
	RUN(test_chunked_hex_sizes);
	RUN(test_chunked_bare_lf);
	RUN(test_chunked_pipelined);
	RUN(test_chunked_byte_at_a_time);
	RUN(test_chunked_all_splits);
	RUN(test_chunked_malformed);
	RUN(test_chunked_line_limits);
	RUN(test_chunked_gap_inside_data);
	RUN(test_chunked_gap_over_size_line);
	RUN(test_chunked_lost_terminator_across_feeds);
	RUN(test_chunked_tail_kept);
	RUN(test_tls_and_binary_rejected);
	RUN(test_random_bytes_rejected);
	RUN(test_fuzz_mutated_requests);
	RUN(test_fuzz_chunked);
	return TEST_SUMMARY();
}
