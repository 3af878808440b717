// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for user/utf8.c and its use in spanbuild.c: ill-formed UTF-8
 * becomes U+FFFD per maximal subpart (the Unicode standard's own example,
 * overlongs, surrogates, values past U+10FFFF, sequences cut short), cut
 * to fit only at character boundaries; and a request whose target, Host,
 * User-Agent and tracestate carry such bytes makes a span whose strings are
 * all valid UTF-8 (found by tests/e2e/test_hostile.py: weft passed them
 * through to JSON and OTLP).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "exchange.h"
#include "http.h"
#include "spanbuild.h"
#include "utf8.h"
#include "test.h"

#define R "\xef\xbf\xbd"	/* U+FFFD */

static char out[1024];

static const char *fix(const char *in)
{
	utf8_repair(out, sizeof(out), in, strlen(in));
	return out;
}

static bool test_valid_passes(void)
{
	static const char *const ok[] = {
		"", "plain ascii /path?q=1", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xed\x9f\xbf", "\xee\x80\x80", "\xf4\x8f\xbf\xbf", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(utf8_valid(ok[i], strlen(ok[i])));
		CHECK_STR(fix(ok[i]), ok[i]);
	}
	/* NUL is a character like any other inside a length */
	CHECK(utf8_valid("a\0b", 3));
	return true;
}

static bool test_maximal_subparts(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		/* Unicode 15, chapter 3, table 3-8 */
		{ "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
		  "a" R R R "b" R "c" R R "d" },
		{ "\xc0\xaf", R R },			/* overlong '/' */
		{ "\xe0\x80\xaf", R R R },		/* overlong, 3 bytes */
		{ "\xed\xa0\x80", R R R },		/* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", R R R R },	/* past U+10FFFF */
		{ "\xf5\x80", R R },
		{ "\xff\xfe", R R },
		{ "ab\xe2\x82", "ab" R },		/* cut short at the end */
		{ "\xe2\x82x", R "x" },			/* cut short inside */
		{ "\xf0\x9f\x98", R },
		{ "\xc3", R },
		{ "%\x80%", "%" R "%" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(!utf8_valid(t[i].in, strlen(t[i].in)));
		CHECK_STR(fix(t[i].in), t[i].want);
		CHECK(utf8_valid(out, strlen(out)));
	}
	return true;
}

/* Cut to fit, never inside a character: neither a copied one nor U+FFFD. */
static bool test_cut_at_boundary(void)
{
	char small[6];

	CHECK_INT(utf8_repair(small, sizeof(small), "ab\xe2\x82\xac" "c", 6), 5);
	CHECK_STR(small, "ab\xe2\x82\xac");
	CHECK_INT(utf8_repair(small, 5, "ab\xe2\x82\xac" "c", 6), 2);
	CHECK_STR(small, "ab");
	CHECK_INT(utf8_repair(small, 5, "ab\xff", 3), 2);	/* U+FFFD needs 3 */
	CHECK_STR(small, "ab");
	CHECK_INT(utf8_repair(small, 1, "abc", 3), 0);
	CHECK_STR(small, "");
	/* the worst case fits in UTF8_REPAIR_SIZE */
	{
		char in[64], big[UTF8_REPAIR_SIZE(64)];

		memset(in, 0xff, sizeof(in));
		CHECK_INT(utf8_repair(big, sizeof(big), in, sizeof(in)), 3 * 64);
	}
	return true;
}

/* Every byte string of up to 3 bytes: the result is valid, and valid input
 * comes out unchanged. */
static bool test_exhaustive_short(void)
{
	char in[3], o[UTF8_REPAIR_SIZE(3)];

	for (uint32_t v = 0; v < (1u << 24); v += 7) {
		size_t n = 1 + v % 3;

		in[0] = (char)(v >> 16);
		in[1] = (char)(v >> 8);
		in[2] = (char)v;
		if (memchr(in, 0, n))
			continue;
		utf8_repair(o, sizeof(o), in, n);
		CHECK(utf8_valid(o, strlen(o)));
		if (utf8_valid(in, n))
			CHECK(strlen(o) == n && memcmp(o, in, n) == 0);
	}
	return true;
}

static const char *attr(const struct span *s, const char *k)
{
	const struct span_attr *a = span_find_attr(s, k);

	return a && a->type == SPAN_ATTR_STR ? a->str : NULL;
}

static struct span *span_of(const char *head, enum weft_role r, struct http_msg *req,
			    struct exchange *ex)
{
	struct conn_info ci;

	memset(ex, 0, sizeof(*ex));
	memset(&ci, 0, sizeof(ci));
	if (http_parse_head((const uint8_t *)head, strlen(head), req) != HTTP_OK)
		return NULL;
	ex->req = req;
	ex->status = 200;
	ex->start_ns = 1000;
	ex->end_ns = 2000;
	ex->trace_id[0] = 1;
	ex->span_id[0] = 2;
	ci.role = r;
	ci.addr.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", ci.addr.saddr);
	inet_pton(AF_INET, "127.0.0.2", ci.addr.daddr);
	ci.addr.sport = 8080;
	ci.addr.dport = 40000;
	return exchange_to_span(ex, &ci);
}

static bool span_all_valid(const struct span *s)
{
	for (int i = 0; i < s->n_attrs; i++)
		if (s->attrs[i].type == SPAN_ATTR_STR &&
		    !utf8_valid(s->attrs[i].str, strlen(s->attrs[i].str)))
			return false;
	return !s->trace_state || utf8_valid(s->trace_state, strlen(s->trace_state));
}

static bool test_span_strings_valid(void)
{
	static struct http_msg req;
	static struct exchange ex;
	const char *head = "GET /caf\xc3\xa9/\xff\xfe?q=\xc0\xaf HTTP/1.1\r\n"
			   "Host: h\xe9te:8080\r\nUser-Agent: ua\x80\r\n\r\n";
	struct span *s;

	for (int r = 0; r < 2; r++) {
		s = span_of(head, r ? WEFT_ROLE_CLIENT : WEFT_ROLE_SERVER, &req, &ex);
		CHECK(s);
		ex.tracestate = NULL;
		CHECK(span_all_valid(s));
		CHECK_STR(attr(s, "url.path"), "/caf\xc3\xa9/" R R);
		CHECK_STR(attr(s, "url.query"), "q=" R R);
		CHECK_STR(attr(s, "user_agent.original"), "ua" R);
		CHECK_STR(attr(s, "server.address"), "h" R "te");
		if (r)
			CHECK_STR(attr(s, "url.full"),
				  "http://h" R "te:8080/caf\xc3\xa9/" R R "?q=" R R);
		span_free(s);
	}
	/* tracestate from the wire too */
	s = span_of("GET / HTTP/1.1\r\n\r\n", WEFT_ROLE_SERVER, &req, &ex);
	CHECK(s);
	span_free(s);
	ex.tracestate = strdup("k=v\xff");
	s = exchange_to_span(&ex, &(struct conn_info){ .role = WEFT_ROLE_SERVER });
	CHECK_STR(s->trace_state, "k=v" R);
	span_free(s);
	free(ex.tracestate);
	/* a valid span is left as it was */
	s = span_of("GET /caf\xc3\xa9 HTTP/1.1\r\nUser-Agent: \xe2\x82\xac\r\n\r\n",
		    WEFT_ROLE_SERVER, &req, &ex);
	CHECK_STR(attr(s, "url.path"), "/caf\xc3\xa9");
	CHECK_STR(attr(s, "user_agent.original"), "\xe2\x82\xac");
	span_free(s);
	return true;
}

int main(void)
{
	RUN(test_valid_passes);
	RUN(test_maximal_subparts);
	RUN(test_cut_at_boundary);
	RUN(test_exhaustive_short);
	RUN(test_span_strings_valid);
	return TEST_SUMMARY();
}
