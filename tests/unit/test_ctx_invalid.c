// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Invalid trace context, as tests/e2e/test_hostile.py sends it, from the
 * request head through http.c to propagation.c: header names that only
 * look like B3 are no context at all (nothing to count), B3 and
 * traceparent values that are wrong are ignored and counted once per
 * request (ctx_invalid_count), and a valid header of another format still
 * wins without a count.
 */
#include <stdint.h>
#include <string.h>
#include "http.h"
#include "propagation.h"
#include "test.h"

#define TID "80f198ee56343ba864fe8b2a57d3eff7"
#define SID "e457b5a2e4d86bd1"

static struct http_msg m;
static struct trace_ctx c;

/* Context of a request with these header lines; -1 when it does not parse. */
static int ctx_of(const char *lines)
{
	char head[2048];

	snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", lines);
	if (http_parse_head((const uint8_t *)head, strlen(head), &m) != HTTP_OK)
		return -1;
	ctx_from_headers(&m.ctx, &c);
	return c.valid;
}

static bool test_lookalike_names_are_no_context(void)
{
	uint64_t before = ctx_invalid_count();

	CHECK_INT(ctx_of("x-b3-traceidx: " TID "\r\nx-b3-spanidx: " SID "\r\n"), 0);
	CHECK_INT(ctx_of("xx-b3-traceid: " TID "\r\nx-b3-spanid-: " SID "\r\n"), 0);
	CHECK_INT(ctx_of("traceparent2: 00-" TID "-" SID "-01\r\n"), 0);
	CHECK_INT(ctx_invalid_count(), before);
	/* whitespace before the colon: the head is refused (a smuggling shape) */
	CHECK_INT(ctx_of("x-b3-traceid : " TID "\r\nx-b3-spanid: " SID "\r\n"), -1);
	return true;
}

static bool test_invalid_values_counted(void)
{
	static const char *const bad[] = {
		"x-b3-traceid: " TID "0\r\nx-b3-spanid: " SID "\r\n",	/* 33 digits */
		"x-b3-traceid: 80f198ee\r\nx-b3-spanid: " SID "\r\n",	/* 8 digits */
		"x-b3-traceid: " TID "\r\nx-b3-spanid: e457b5a2e4d86bd\r\n",
		"x-b3-traceid: 80f198ee56343ba864fe8b2a57d3effz\r\nx-b3-spanid: " SID "\r\n",
		"x-b3-traceid: 00000000000000000000000000000000\r\nx-b3-spanid: " SID "\r\n",
		"x-b3-traceid: " TID "\r\nx-b3-spanid: 0000000000000000\r\n",
		"x-b3-traceid: " TID "\r\n",				/* no span id */
		"b3: " TID "-" SID "-x\r\n",				/* bad sampling state */
		"b3: " TID "-" SID "-1-zz\r\n",
		"b3: 0000000000000000-" SID "\r\n",
		"b3: x\r\n",
		"traceparent: ff-" TID "-" SID "-01\r\n",		/* version ff */
		"traceparent: 00-" TID "-" SID "-0g\r\n",		/* bad flags */
		"traceparent: 00-" TID "-0000000000000000-01\r\n",
		"traceparent: 00-" TID "-" SID "-01\r\ntraceparent: 00-" TID "-" SID "-01\r\n",
		"uber-trace-id: 0:" SID ":0:1\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t before = ctx_invalid_count();

		if (ctx_of(bad[i]) != 0 || ctx_invalid_count() != before + 1) {
			fprintf(stderr, "  case %zu: valid %d, counted %llu\n", i, c.valid,
				(unsigned long long)(ctx_invalid_count() - before));
			return false;
		}
	}
	return true;
}

static bool test_decisions_and_valid_not_counted(void)
{
	uint64_t before = ctx_invalid_count();

	CHECK_INT(ctx_of("b3: 0\r\n"), 0);
	CHECK_INT(c.sampled, 0);
	CHECK_INT(ctx_of("b3: d\r\n"), 0);
	CHECK_INT(ctx_of("x-b3-sampled: 1\r\nx-b3-flags: 1\r\n"), 0);
	CHECK_INT(ctx_of(""), 0);
	CHECK_INT(ctx_of("tracestate: a=b\r\n"), 0);
	CHECK_INT(ctx_of("x-b3-traceid: " TID "\r\nx-b3-spanid: " SID "\r\n"), 1);
	/* an invalid header does not hide a valid one of another format */
	CHECK_INT(ctx_of("b3: junk-junk\r\ntraceparent: 00-" TID "-" SID "-01\r\n"), 1);
	CHECK_INT(c.source, CTX_TRACEPARENT);
	CHECK_INT(ctx_invalid_count(), before);
	return true;
}

int main(void)
{
	RUN(test_lookalike_names_are_no_context);
	RUN(test_invalid_values_counted);
	RUN(test_decisions_and_valid_not_counted);
	return TEST_SUMMARY();
}
