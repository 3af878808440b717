// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for user/propagation.c: B3, W3C and Jaeger trace context. */
#include <stdint.h>
#include <stdlib.h>
#include "propagation.h"
#include "test.h"

#define TP_EXAMPLE "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TID32 "80f198ee56343ba864fe8b2a57d3eff7"
#define TID16 "463ac35c9f6413ad"
#define SID "e457b5a2e4d86bd1"
#define PID "05e3ac9a4f6e3b90"

static struct http_ctx_headers h;
static struct trace_ctx c;

/* Hex of n bytes, for comparing ids as text. */
static const char *hex(const uint8_t *b, size_t n)
{
	static char s[2][65];
	static int k;
	char *o = s[k ^= 1];

	for (size_t i = 0; i < n; i++)
		sprintf(o + 2 * i, "%02x", b[i]);
	o[2 * n] = '\0';
	return o;
}

static bool id_eq(const uint8_t *b, size_t n, const char *want)
{
	CHECK_STR(hex(b, n), want);
	return true;
}

static void set(char *field, const char *v)
{
	snprintf(field, HTTP_CTX_VALUE_MAX, "%s", v);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* --- ids ---------------------------------------------------------------- */

static bool test_parse_trace_id(void)
{
	uint8_t id[16];

	CHECK(parse_trace_id(TID32, 32, id));
	CHECK(id_eq(id, 16, TID32));
	/* 64-bit ids are left-padded to 128 bits */
	CHECK(parse_trace_id(TID16, 16, id));
	CHECK(id_eq(id, 16, "0000000000000000" TID16));
	/* B3 senders are not all lower-case */
	CHECK(parse_trace_id("463AC35C9F6413AD", 16, id));
	CHECK(id_eq(id, 16, "0000000000000000" TID16));
	return true;
}

static bool test_parse_trace_id_rejects(void)
{
	uint8_t id[16];

	memset(id, 0xaa, sizeof(id));
	CHECK(!parse_trace_id(TID32, 31, id));
	CHECK(!parse_trace_id(TID32 "0", 33, id));
	CHECK(!parse_trace_id(TID16, 15, id));
	CHECK(!parse_trace_id(TID32, 17, id));
	CHECK(!parse_trace_id("", 0, id));
	CHECK(!parse_trace_id("463ac35c9f6413ag", 16, id));
	CHECK(!parse_trace_id("463ac35c9f6413a ", 16, id));
	CHECK(!parse_trace_id("-63ac35c9f6413ad", 16, id));
	CHECK(!parse_trace_id("0000000000000000", 16, id));
	CHECK(!parse_trace_id("00000000000000000000000000000000", 32, id));
	/* the output is left alone on failure */
	for (int i = 0; i < 16; i++)
		CHECK(id[i] == 0xaa);
	/* n, not the NUL, bounds the read */
	CHECK(parse_trace_id(TID16 "zzzz", 16, id));
	return true;
}

static bool test_parse_span_id(void)
{
	uint8_t id[8];

	CHECK(parse_span_id(SID, 16, id));
	CHECK(id_eq(id, 8, SID));
	CHECK(parse_span_id("0000000000000001", 16, id));
	CHECK(id_eq(id, 8, "0000000000000001"));
	CHECK(!parse_span_id("e457b5a2", 8, id));	/* no padding for spans */
	CHECK(!parse_span_id(SID "0", 17, id));
	CHECK(!parse_span_id("0000000000000000", 16, id));
	CHECK(!parse_span_id("e457b5a2e4d86bdx", 16, id));
	return true;
}

/* --- W3C traceparent ---------------------------------------------------- */

static bool test_traceparent_valid(void)
{
	CHECK(ctx_parse_traceparent(TP_EXAMPLE, &c));
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_TRACEPARENT);
	CHECK(id_eq(c.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736"));
	CHECK(id_eq(c.span_id, 8, "00f067aa0ba902b7"));
	CHECK(!c.has_parent_id && !c.debug);
	CHECK_INT(c.sampled, 1);
	CHECK(ctx_parse_traceparent(
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &c));
	CHECK_INT(c.sampled, 0);
	/* only bit 0 is the sampled flag */
	CHECK(ctx_parse_traceparent(
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", &c));
	CHECK_INT(c.sampled, 0);
	CHECK(ctx_parse_traceparent(
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", &c));
	CHECK_INT(c.sampled, 1);
	return true;
}

static bool test_traceparent_invalid(void)
{
	static const char *const bad[] = {
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
		"00-463ac35c9f6413ad-00f067aa0ba902b7-01",	/* 64-bit id */
		" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
		"", "00", "00-",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.valid = true;
		if (ctx_parse_traceparent(bad[i], &c) || c.valid) {
			fprintf(stderr, "  accepted bad[%zu]\n", i);
			return false;
		}
		CHECK_INT(c.sampled, -1);
		CHECK_INT(c.source, CTX_NONE);
	}
	CHECK(!ctx_parse_traceparent(NULL, &c));
	return true;
}

static bool test_traceparent_future_version(void)
{
	/* later versions may append fields after another dash */
	CHECK(ctx_parse_traceparent(
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c));
	CHECK(ctx_parse_traceparent(
		"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
		&c));
	CHECK(c.valid);
	CHECK_INT(c.sampled, 1);
	CHECK(!ctx_parse_traceparent(
		"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what",
		&c));
	return true;
}

/* --- B3 single header --------------------------------------------------- */

static bool test_b3_single_full(void)
{
	CHECK(ctx_parse_b3_single(TID32 "-" SID "-1-" PID, &c));
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_B3_SINGLE);
	CHECK(id_eq(c.trace_id, 16, TID32));
	CHECK(id_eq(c.span_id, 8, SID));
	CHECK(c.has_parent_id);
	CHECK(id_eq(c.parent_id, 8, PID));
	CHECK_INT(c.sampled, 1);
	CHECK(!c.debug);
	CHECK(ctx_parse_b3_single(TID16 "-" SID "-d-" PID, &c));
	CHECK(id_eq(c.trace_id, 16, "0000000000000000" TID16));
	CHECK_INT(c.sampled, 1);
	CHECK(c.debug);
	return true;
}

static bool test_b3_single_forms(void)
{
	CHECK(ctx_parse_b3_single(TID32 "-" SID, &c));
	CHECK_INT(c.sampled, -1);		/* deferred */
	CHECK(!c.has_parent_id);
	CHECK(ctx_parse_b3_single(TID32 "-" SID "-0", &c));
	CHECK_INT(c.sampled, 0);
	CHECK(c.valid);
	/* a parent without a sampling state: deferred decision */
	CHECK(ctx_parse_b3_single(TID32 "-" SID "-" PID, &c));
	CHECK_INT(c.sampled, -1);
	CHECK(c.has_parent_id);
	CHECK(id_eq(c.parent_id, 8, PID));
	/* upper-case hex from lenient senders */
	CHECK(ctx_parse_b3_single("80F198EE56343BA864FE8B2A57D3EFF7-E457B5A2E4D86BD1-1",
				  &c));
	CHECK(id_eq(c.trace_id, 16, TID32));
	return true;
}

static bool test_b3_single_sampling_only(void)
{
	CHECK(!ctx_parse_b3_single("0", &c));
	CHECK(!c.valid);
	CHECK_INT(c.sampled, 0);
	CHECK(!ctx_parse_b3_single("1", &c));
	CHECK_INT(c.sampled, 1);
	CHECK(!c.debug);
	CHECK(!ctx_parse_b3_single("d", &c));
	CHECK_INT(c.sampled, 1);
	CHECK(c.debug);
	CHECK(!ctx_parse_b3_single("x", &c));
	CHECK_INT(c.sampled, -1);
	CHECK(!ctx_parse_b3_single("", &c));
	CHECK_INT(c.sampled, -1);
	CHECK(!ctx_parse_b3_single(NULL, &c));
	return true;
}

static bool test_b3_single_invalid(void)
{
	static const char *const bad[] = {
		TID32 "-" SID "-2",
		TID32 "-" SID "-1-" PID "-x",
		TID32 "-" SID "-1-05e3ac9a4f6e3b9",
		TID32 "-" SID "-1-0000000000000000",
		TID32 "-" SID "-",
		TID32 "-" SID "--" PID,
		TID32 "-e457b5a2e4d86bd",
		TID32 "-0000000000000000-1",
		"00000000000000000000000000000000-" SID "-1",
		"80f198ee56343ba864fe8b2a57d3eff-" SID,
		"80f198ee56343ba864fe8b2a57d3eff7a-" SID,
		"g0f198ee56343ba864fe8b2a57d3eff7-" SID,
		TID32, "-" SID, TID32 " -" SID, "01", "true",
		TID32 "-" SID "-true",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ctx_parse_b3_single(bad[i], &c) || c.valid) {
			fprintf(stderr, "  accepted bad[%zu]\n", i);
			return false;
		}
		CHECK(!c.has_parent_id);
	}
	return true;
}

/* --- B3 multi header ---------------------------------------------------- */

static bool test_b3_multi_valid(void)
{
	memset(&h, 0, sizeof(h));
	set(h.b3_traceid, TID32);
	set(h.b3_spanid, SID);
	set(h.b3_parentspanid, PID);
	set(h.b3_sampled, "1");
	CHECK(ctx_parse_b3_multi(&h, &c));
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_B3_MULTI);
	CHECK(id_eq(c.trace_id, 16, TID32));
	CHECK(id_eq(c.span_id, 8, SID));
	CHECK(c.has_parent_id);
	CHECK(id_eq(c.parent_id, 8, PID));
	CHECK_INT(c.sampled, 1);
	/* what the mesh scenario sends: 64-bit trace id, no sampled */
	memset(&h, 0, sizeof(h));
	set(h.b3_traceid, TID16);
	set(h.b3_spanid, SID);
	CHECK(ctx_parse_b3_multi(&h, &c));
	CHECK(id_eq(c.trace_id, 16, "0000000000000000" TID16));
	CHECK_INT(c.sampled, -1);
	CHECK(!c.has_parent_id);
	return true;
}

static bool test_b3_multi_bad_parent_ignored(void)
{
	static const char *const parents[] = {
		"05e3ac9a4f6e3b9", "0000000000000000", "zz", "05e3ac9a4f6e3b90a",
	};

	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		memset(&h, 0, sizeof(h));
		set(h.b3_traceid, TID32);
		set(h.b3_spanid, SID);
		set(h.b3_parentspanid, parents[i]);
		CHECK(ctx_parse_b3_multi(&h, &c));
		CHECK(c.valid && !c.has_parent_id);
		CHECK(id_eq(c.parent_id, 8, "0000000000000000"));
	}
	return true;
}

static bool test_b3_multi_sampled_values(void)
{
	static const struct {
		const char *sampled, *flags;
		int want;
		bool debug;
	} t[] = {
		{ "1", "", 1, false }, { "0", "", 0, false },
		{ "true", "", 1, false }, { "false", "", 0, false },
		{ "True", "", 1, false }, { "FALSE", "", 0, false },
		{ "yes", "", -1, false }, { "2", "", -1, false },
		{ "", "1", 1, true }, { "0", "1", 1, true },
		{ "1", "0", 1, false }, { "", "", -1, false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&h, 0, sizeof(h));
		set(h.b3_traceid, TID32);
		set(h.b3_spanid, SID);
		set(h.b3_sampled, t[i].sampled);
		set(h.b3_flags, t[i].flags);
		CHECK(ctx_parse_b3_multi(&h, &c));
		if (c.sampled != t[i].want || c.debug != t[i].debug) {
			fprintf(stderr, "  case %zu: sampled %d debug %d\n", i,
				c.sampled, c.debug);
			return false;
		}
	}
	return true;
}

static bool test_b3_multi_sampled_only(void)
{
	memset(&h, 0, sizeof(h));
	set(h.b3_sampled, "0");
	CHECK(!ctx_parse_b3_multi(&h, &c));
	CHECK(!c.valid);
	CHECK_INT(c.sampled, 0);
	memset(&h, 0, sizeof(h));
	set(h.b3_flags, "1");
	CHECK(!ctx_parse_b3_multi(&h, &c));
	CHECK_INT(c.sampled, 1);
	CHECK(c.debug);
	memset(&h, 0, sizeof(h));
	CHECK(!ctx_parse_b3_multi(&h, &c));
	CHECK_INT(c.sampled, -1);
	return true;
}

static bool test_b3_multi_invalid_ids(void)
{
	static const char *const ids[][2] = {
		{ TID32, "" }, { "", SID }, { TID32, "e457b5a2" },
		{ "80f198ee56343ba8", "e457b5a2e4d86bdq" },
		{ "0000000000000000", SID }, { TID32, "0000000000000000" },
		{ TID32 "0", SID }, { " " TID16, SID },
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		memset(&h, 0, sizeof(h));
		set(h.b3_traceid, ids[i][0]);
		set(h.b3_spanid, ids[i][1]);
		set(h.b3_sampled, "1");
		CHECK(!ctx_parse_b3_multi(&h, &c));
		CHECK(!c.valid);
		CHECK_INT(c.sampled, 1);	/* the decision survives */
		CHECK(id_eq(c.trace_id, 16, "00000000000000000000000000000000"));
	}
	return true;
}

/* --- Jaeger uber-trace-id ----------------------------------------------- */

static bool test_uber_valid(void)
{
	CHECK(ctx_parse_uber("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
			     &c));
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_UBER);
	CHECK(id_eq(c.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736"));
	CHECK(id_eq(c.span_id, 8, "00f067aa0ba902b7"));
	CHECK(!c.has_parent_id);
	CHECK_INT(c.sampled, 1);
	CHECK(!c.debug);
	/* leading zeros may be dropped */
	CHECK(ctx_parse_uber("abc:1:2f:0", &c));
	CHECK(id_eq(c.trace_id, 16, "00000000000000000000000000000abc"));
	CHECK(id_eq(c.span_id, 8, "0000000000000001"));
	CHECK(c.has_parent_id);
	CHECK(id_eq(c.parent_id, 8, "000000000000002f"));
	CHECK_INT(c.sampled, 0);
	/* flags: 1 sampled, 2 debug (which implies sampled) */
	CHECK(ctx_parse_uber("1:2:0:3", &c));
	CHECK(c.debug);
	CHECK_INT(c.sampled, 1);
	CHECK(ctx_parse_uber("1:2:0:2", &c));
	CHECK(c.debug);
	CHECK_INT(c.sampled, 1);
	CHECK(ctx_parse_uber("1:2:0000:01", &c));
	CHECK(!c.has_parent_id);
	return true;
}

static bool test_uber_percent_encoded(void)
{
	CHECK(ctx_parse_uber("4bf92f3577b34da6%3A00f067aa0ba902b7%3a0%3A1", &c));
	CHECK(id_eq(c.trace_id, 16, "00000000000000004bf92f3577b34da6"));
	CHECK(id_eq(c.span_id, 8, "00f067aa0ba902b7"));
	CHECK_INT(c.sampled, 1);
	CHECK(ctx_parse_uber("a%3Ab:0:1", &c));	/* mixed forms */
	CHECK(!ctx_parse_uber("a%3Bb:0:1", &c));
	CHECK(!ctx_parse_uber("a:b:0:1%", &c));
	CHECK(!ctx_parse_uber("a:b:0:1%3", &c));
	return true;
}

static bool test_uber_invalid(void)
{
	static const char *const bad[] = {
		"1:2:0", "1:2:0:1:5", "",
		"4bf92f3577b34da6a3ce929d0e0e47361:2:0:1",	/* 33 digits */
		"1:00f067aa0ba902b71:0:1",			/* 17 digits */
		"0:2:0:1", "00000000:2:0:1", "1:0:0:1", "1:2:0:",
		":2:0:1", "1::0:1", "1:2::1", "1:2:0:100", "1:2:0:g",
		"x:2:0:1", "1:2:z:1", " 1:2:0:1", "1:2:0:1 ",
		"1-2-0-1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ctx_parse_uber(bad[i], &c) || c.valid) {
			fprintf(stderr, "  accepted bad[%zu]\n", i);
			return false;
		}
		CHECK_INT(c.sampled, -1);
	}
	CHECK(!ctx_parse_uber(NULL, &c));
	return true;
}

static bool test_uber_value_too_long(void)
{
	static char v[2 * HTTP_CTX_VALUE_MAX];

	memset(v, '0', sizeof(v) - 1);
	memcpy(v + sizeof(v) - 9, "1:2:0:1", 8);
	CHECK(!ctx_parse_uber(v, &c));
	return true;
}

/* The cases Jaeger clients produce, valid and not. */
static bool test_uber_more(void)
{
	/* 64-bit trace ids (Jaeger's default for years) are left-padded */
	CHECK(ctx_parse_uber("463ac35c9f6413ad:e457b5a2e4d86bd1:0:1", &c));
	CHECK(id_eq(c.trace_id, 16, "0000000000000000463ac35c9f6413ad"));
	/* upper-case hex, as some clients print it */
	CHECK(ctx_parse_uber("463AC35C9F6413AD:E457B5A2E4D86BD1:0:1", &c));
	CHECK(id_eq(c.span_id, 8, SID));
	/* the parent is deprecated but parsed; 0 and 0000 mean none */
	CHECK(ctx_parse_uber(TID32 ":" SID ":" PID ":1", &c));
	CHECK(c.has_parent_id);
	CHECK(id_eq(c.parent_id, 8, PID));
	CHECK(ctx_parse_uber(TID32 ":" SID ":0000000000000000:1", &c));
	CHECK(!c.has_parent_id);
	/* flags: bit 0 sampled, bit 1 debug (sampled too), others ignored */
	CHECK(ctx_parse_uber("1:2:0:0", &c));
	CHECK_INT(c.sampled, 0);
	CHECK(!c.debug);
	CHECK(ctx_parse_uber("1:2:0:8", &c));
	CHECK_INT(c.sampled, 0);
	CHECK(ctx_parse_uber("1:2:0:05", &c));
	CHECK_INT(c.sampled, 1);
	CHECK(!c.debug);
	CHECK(ctx_parse_uber("1:2:0:ff", &c));
	CHECK_INT(c.sampled, 1);
	CHECK(c.debug);
	/* URL-encoded separators, upper and lower case, the parent 0 too */
	CHECK(ctx_parse_uber(TID32 "%3A" SID "%3a0%3A3", &c));
	CHECK(id_eq(c.trace_id, 16, TID32));
	CHECK(c.debug);
	CHECK(!c.has_parent_id);
	return true;
}

static bool test_uber_malformed(void)
{
	static const char *const bad[] = {
		/* all-zero ids, in every length */
		"00000000000000000000000000000000:" SID ":0:1",
		"0000000000000000:" SID ":0:1",
		TID32 ":0000000000000000:0:1",
		TID32 ":0:0:1",
		/* too long: trace 33, span 17, parent 17, flags 3 digits */
		TID32 "a:" SID ":0:1",
		TID32 ":" SID "a:0:1",
		TID32 ":" SID ":" PID "a:1",
		TID32 ":" SID ":0:001",
		/* not hex */
		TID32 ":" SID ":0:x",
		TID32 ":e457b5a2e4d86bdz:0:1",
		"80f198ee56343ba864fe8b2a57d3eff-:" SID ":0:1",
		TID32 ":" SID ":-1:1",
		"0x1:2:0:1",
		/* separators: double-encoded, other escapes, too few, too many */
		TID32 "%253A" SID "%253A0%253A1",
		TID32 "%3B" SID ":0:1",
		TID32 ":" SID ":0",
		TID32 ":" SID ":0:1:",
		":::", ":", "",
		TID32 "-" SID "-0-1",
		/* blanks are not trimmed */
		TID32 ": " SID ":0:1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ctx_parse_uber(bad[i], &c) || c.valid) {
			fprintf(stderr, "  accepted bad[%zu]: %s\n", i, bad[i]);
			return false;
		}
		CHECK_INT(c.sampled, -1);
		CHECK_INT(c.source, CTX_NONE);
	}
	return true;
}

/* --- precedence and fallbacks ------------------------------------------- */

static void all_headers(void)
{
	memset(&h, 0, sizeof(h));
	set(h.traceparent, TP_EXAMPLE);
	set(h.tracestate, "congo=t61rcWkgMzE");
	set(h.b3, "11111111111111111111111111111111-2222222222222222-0");
	set(h.b3_traceid, "33333333333333333333333333333333");
	set(h.b3_spanid, "4444444444444444");
	set(h.uber_trace_id, "5555:6666:0:1");
}

/* Without OTEL_PROPAGATORS: b3, X-B3-*, traceparent, uber-trace-id. */
static bool test_from_headers_precedence(void)
{
	all_headers();
	ctx_from_headers(&h, &c);
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_B3_SINGLE);
	CHECK(id_eq(c.span_id, 8, "2222222222222222"));
	CHECK_INT(c.sampled, 0);
	h.b3[0] = '\0';
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_B3_MULTI);
	CHECK(id_eq(c.span_id, 8, "4444444444444444"));
	h.b3_traceid[0] = '\0';
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_TRACEPARENT);
	CHECK(id_eq(c.span_id, 8, "00f067aa0ba902b7"));
	h.traceparent[0] = '\0';
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_UBER);
	CHECK(id_eq(c.span_id, 8, "0000000000006666"));
	h.uber_trace_id[0] = '\0';
	ctx_from_headers(&h, &c);
	CHECK(!c.valid);
	CHECK_INT(c.source, CTX_NONE);
	CHECK_INT(c.sampled, -1);
	/* a lone X-B3-SpanId is an invalid context, counted; a decision alone
	 * is honoured; no header at all (the quick path) is neither */
	{
		uint64_t inv = ctx_invalid_count();

		ctx_from_headers(&h, &c);
		CHECK(ctx_invalid_count() == inv + 1);
		memset(&h, 0, sizeof(h));
		set(h.b3_sampled, "0");
		ctx_from_headers(&h, &c);
		CHECK(!c.valid);
		CHECK_INT(c.sampled, 0);
		h.b3_sampled[0] = '\0';
		c.sampled = 5;
		ctx_from_headers(&h, &c);
		CHECK(!c.valid);
		CHECK_INT(c.source, CTX_NONE);
		CHECK_INT(c.sampled, -1);
		CHECK(!c.debug && !c.has_parent_id && !c.tracestate[0]);
		CHECK(ctx_invalid_count() == inv + 1);
	}
	return true;
}

static bool test_from_headers_invalid_falls_through(void)
{
	/* an invalid higher-precedence header does not hide a valid one */
	all_headers();
	set(h.traceparent, "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
	set(h.b3, "garbage");
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_B3_MULTI);
	CHECK_STR(c.tracestate, "");
	set(h.b3_spanid, "nope");
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_UBER);
	/* and the other way round: a bad B3 does not hide traceparent */
	set(h.traceparent, TP_EXAMPLE);
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_TRACEPARENT);
	CHECK_STR(c.tracestate, "congo=t61rcWkgMzE");
	return true;
}

static bool test_from_headers_tracestate(void)
{
	all_headers();
	h.b3[0] = h.b3_traceid[0] = '\0';
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_TRACEPARENT);
	CHECK_STR(c.tracestate, "congo=t61rcWkgMzE");
	/* tracestate means nothing without its traceparent */
	h.traceparent[0] = '\0';
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_UBER);
	CHECK_STR(c.tracestate, "");
	/* nor when another format's context is taken */
	all_headers();
	ctx_from_headers(&h, &c);
	CHECK_INT(c.source, CTX_B3_SINGLE);
	CHECK_STR(c.tracestate, "");
	return true;
}

static bool test_from_headers_traceparent_dup(void)
{
	memset(&h, 0, sizeof(h));
	set(h.traceparent, TP_EXAMPLE);
	set(h.tracestate, "a=b");
	h.traceparent_dup = true;
	h.duplicates = 1;
	ctx_from_headers(&h, &c);
	CHECK(!c.valid);
	CHECK_STR(c.tracestate, "");
	set(h.b3, TID32 "-" SID);
	ctx_from_headers(&h, &c);
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_B3_SINGLE);
	return true;
}

static const char *fmts(const char *list)
{
	static struct ctx_formats f;
	static char d[64];

	if (ctx_formats_parse(list, "test", false, &f))
		return "(error)";
	ctx_formats_describe(&f, d, sizeof(d));
	ctx_from_headers_in(&h, &f, &c);
	return d;
}

/* OTEL_PROPAGATORS: the SDKs' composite order, the last listed wins. */
static bool test_formats_order(void)
{
	all_headers();
	CHECK_STR(fmts("tracecontext,baggage,b3"), "b3,tracecontext");
	CHECK_INT(c.source, CTX_B3_SINGLE);
	CHECK_STR(fmts("b3,tracecontext"), "tracecontext,b3");
	CHECK_INT(c.source, CTX_TRACEPARENT);
	CHECK_STR(c.tracestate, "congo=t61rcWkgMzE");
	CHECK_STR(fmts("b3 , tracecontext , jaeger"), "jaeger,tracecontext,b3");
	CHECK_INT(c.source, CTX_UBER);
	/* b3multi is B3 too: the b3 header, then X-B3-* */
	CHECK_STR(fmts("b3multi"), "b3");
	CHECK_INT(c.source, CTX_B3_SINGLE);
	h.b3[0] = '\0';
	CHECK_STR(fmts("b3"), "b3");
	CHECK_INT(c.source, CTX_B3_MULTI);
	/* listed twice: its last place counts */
	CHECK_STR(fmts("b3,tracecontext,b3multi"), "b3,tracecontext");
	CHECK_STR(fmts("jaeger,b3,jaeger,tracecontext"), "tracecontext,jaeger,b3");
	/* case, blanks and empty members */
	CHECK_STR(fmts(",, TraceContext ,\tB3MULTI,"), "b3,tracecontext");
	/* unset or blank: every format, B3 first */
	CHECK_STR(fmts(NULL), "b3,tracecontext,jaeger");
	CHECK_STR(fmts("  "), "b3,tracecontext,jaeger");
	return true;
}

static bool test_formats_restrict(void)
{
	all_headers();
	/* only what is listed is read, even when nothing else is there */
	CHECK_STR(fmts("jaeger"), "jaeger");
	CHECK_INT(c.source, CTX_UBER);
	h.uber_trace_id[0] = '\0';
	CHECK_STR(fmts("jaeger"), "jaeger");
	CHECK(!c.valid);
	CHECK_INT(c.sampled, -1);	/* "b3: ...-0" is not read either */
	/* a bad header of a listed format falls through to the next one */
	all_headers();
	set(h.b3, "garbage");
	set(h.b3_spanid, "nope");
	CHECK_STR(fmts("tracecontext,b3"), "b3,tracecontext");
	CHECK_INT(c.source, CTX_TRACEPARENT);
	/* baggage carries no trace context; none reads nothing */
	all_headers();
	CHECK_STR(fmts("baggage"), "none");
	CHECK(!c.valid);
	CHECK_STR(fmts("none"), "none");
	CHECK(!c.valid);
	fprintf(stderr, "  (the warnings below are expected)\n");
	CHECK_STR(fmts("b3,none"), "none");
	CHECK(!c.valid);
	/* unknown names are left out (an error where strict: --propagators) */
	CHECK_STR(fmts("xray,tracecontext,bogus"), "tracecontext");
	CHECK_INT(c.source, CTX_TRACEPARENT);
	CHECK_STR(fmts("xray"), "none");
	{
		struct ctx_formats f;

		CHECK_INT(ctx_formats_parse("tracecontext,bogus", "test", true, &f), -1);
		CHECK_INT(ctx_formats_parse("b3multi,baggage", "test", true, &f), 0);
		CHECK_INT(f.n, 1);
	}
	/* a bare B3 decision counts only when B3 is read */
	memset(&h, 0, sizeof(h));
	set(h.b3, "0");
	CHECK_STR(fmts("tracecontext"), "tracecontext");
	CHECK_INT(c.sampled, -1);
	CHECK_STR(fmts("tracecontext,b3"), "b3,tracecontext");
	CHECK_INT(c.sampled, 0);
	return true;
}

static bool test_from_headers_sampling_only(void)
{
	memset(&h, 0, sizeof(h));
	set(h.b3, "0");
	ctx_from_headers(&h, &c);
	CHECK(!c.valid);
	CHECK_INT(c.sampled, 0);
	memset(&h, 0, sizeof(h));
	set(h.b3_sampled, "0");
	ctx_from_headers(&h, &c);
	CHECK(!c.valid);
	CHECK_INT(c.sampled, 0);
	memset(&h, 0, sizeof(h));
	set(h.b3, "d");
	ctx_from_headers(&h, &c);
	CHECK_INT(c.sampled, 1);
	CHECK(c.debug);
	/* b3 single's decision is preferred over X-B3-Sampled's */
	set(h.b3_sampled, "0");
	ctx_from_headers(&h, &c);
	CHECK_INT(c.sampled, 1);
	/* a valid context elsewhere wins over a bare decision */
	memset(&h, 0, sizeof(h));
	set(h.b3, "0");
	set(h.uber_trace_id, "1:2:0:1");
	ctx_from_headers(&h, &c);
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_UBER);
	CHECK_INT(c.sampled, 1);
	return true;
}

/* The whole path from captured bytes, as a mesh-fronted Go service sees it. */
static bool test_from_http_head(void)
{
	static struct http_msg m;
	const char *s =
		"GET /b HTTP/1.1\r\nHost: service-b:8080\r\n"
		"x-b3-traceid: " TID16 "\r\nx-b3-spanid: " SID "\r\n"
		"X-B3-PARENTSPANID: " PID "\r\nx-b3-sampled: 1\r\n"
		"x-request-id: 6a1c\r\n\r\n";

	CHECK_INT(http_parse_head((const uint8_t *)s, strlen(s), &m), HTTP_OK);
	ctx_from_headers(&m.ctx, &c);
	CHECK(c.valid);
	CHECK_INT(c.source, CTX_B3_MULTI);
	CHECK(id_eq(c.trace_id, 16, "0000000000000000" TID16));
	CHECK(id_eq(c.span_id, 8, SID));
	CHECK(id_eq(c.parent_id, 8, PID));
	CHECK_INT(c.sampled, 1);

	/* a traceparent too long to keep is dropped, not cut to a wrong id */
	static char big[2048];
	snprintf(big, sizeof(big),
		 "GET / HTTP/1.1\r\ntraceparent: %s-%0*d\r\nb3: %s-%s\r\n\r\n",
		 TP_EXAMPLE, 500, 0, TID32, SID);
	CHECK_INT(http_parse_head((const uint8_t *)big, strlen(big), &m), HTTP_OK);
	CHECK_STR(m.ctx.traceparent, "");
	ctx_from_headers(&m.ctx, &c);
	CHECK_INT(c.source, CTX_B3_SINGLE);

	/* two traceparent lines in the wire bytes */
	s = "GET / HTTP/1.1\r\ntraceparent: " TP_EXAMPLE "\r\n"
	    "Traceparent: " TP_EXAMPLE "\r\n\r\n";
	CHECK_INT(http_parse_head((const uint8_t *)s, strlen(s), &m), HTTP_OK);
	ctx_from_headers(&m.ctx, &c);
	CHECK(!c.valid);
	return true;
}

/* --- hostile input ------------------------------------------------------ */

static bool ctx_sane(const struct trace_ctx *t, bool ok)
{
	static const uint8_t zero[16];

	CHECK(ok == t->valid);
	CHECK(t->sampled >= -1 && t->sampled <= 1);
	if (t->valid) {
		CHECK(memcmp(t->trace_id, zero, 16) != 0);
		CHECK(memcmp(t->span_id, zero, 8) != 0);
		CHECK(t->source != CTX_NONE);
	} else {
		CHECK_INT(t->source, CTX_NONE);
	}
	if (t->has_parent_id)
		CHECK(memcmp(t->parent_id, zero, 8) != 0);
	CHECK(strnlen(t->tracestate, HTTP_CTX_VALUE_MAX) < HTTP_CTX_VALUE_MAX);
	return true;
}

static void mutate(char *s, size_t size)
{
	static const char special[] = "-:%3Aa0f1dF_ \t";
	size_t n = strlen(s);

	for (int k = 1 + rnd() % 3; k > 0; k--) {
		size_t at = n ? rnd() % n : 0;
		char v = rnd() % 2 ? (char)(1 + rnd() % 255) :
				     special[rnd() % (sizeof(special) - 1)];

		switch (rnd() % 3) {
		case 0:
			if (at < n)
				s[at] = v;
			break;
		case 1:
			if (n + 1 < size) {
				memmove(s + at + 1, s + at, n - at + 1);
				s[at] = v;
				n++;
			}
			break;
		case 2:
			if (at < n) {
				memmove(s + at, s + at + 1, n - at);
				n--;
			}
			break;
		}
	}
}

/* Run a parser on an exact-size heap copy, so ASan catches over-reads. */
static bool fuzz_one(int which, const char *v)
{
	size_t n = strlen(v) + 1;
	char *b = malloc(n);
	bool ok;

	memcpy(b, v, n);
	switch (which) {
	case 0:
		ok = ctx_parse_traceparent(b, &c);
		break;
	case 1:
		ok = ctx_parse_b3_single(b, &c);
		break;
	default:
		ok = ctx_parse_uber(b, &c);
		break;
	}
	free(b);
	return ctx_sane(&c, ok);
}

static bool test_fuzz_parsers(void)
{
	static const char *const seeds[] = {
		TP_EXAMPLE,
		TID32 "-" SID "-1-" PID,
		"4bf92f3577b34da6%3A00f067aa0ba902b7%3a0%3A1",
	};
	char v[HTTP_CTX_VALUE_MAX];
	int valid = 0;

	rng_state = 0xfeedface0badf00dull;
	for (int iter = 0; iter < 300000; iter++) {
		int which = iter % 3;

		snprintf(v, sizeof(v), "%s", seeds[which]);
		mutate(v, sizeof(v));
		if (!fuzz_one(which, v)) {
			fprintf(stderr, "  iteration %d: \"%s\"\n", iter, v);
			return false;
		}
		valid += c.valid;
	}
	CHECK(valid > 1000);	/* some mutations keep a valid context */

	/* and the multi-header path, mutating one field at a time */
	for (int iter = 0; iter < 50000; iter++) {
		char *f[] = { h.b3_traceid, h.b3_spanid, h.b3_parentspanid,
			      h.b3_sampled, h.b3_flags };
		bool ok;

		memset(&h, 0, sizeof(h));
		set(h.b3_traceid, TID32);
		set(h.b3_spanid, SID);
		set(h.b3_parentspanid, PID);
		set(h.b3_sampled, "1");
		mutate(f[rnd() % 5], HTTP_CTX_VALUE_MAX);
		ok = ctx_parse_b3_multi(&h, &c);
		CHECK(ctx_sane(&c, ok));
		ctx_from_headers(&h, &c);
		CHECK(ctx_sane(&c, c.valid));
	}
	return true;
}

int main(void)
{
	RUN(test_parse_trace_id);
	RUN(test_parse_trace_id_rejects);
	RUN(test_parse_span_id);
	RUN(test_traceparent_valid);
	RUN(test_traceparent_invalid);
	RUN(test_traceparent_future_version);
	RUN(test_b3_single_full);
	RUN(test_b3_single_forms);
	RUN(test_b3_single_sampling_only);
	RUN(test_b3_single_invalid);
	RUN(test_b3_multi_valid);
	RUN(test_b3_multi_bad_parent_ignored);
	RUN(test_b3_multi_sampled_values);
	RUN(test_b3_multi_sampled_only);
	RUN(test_b3_multi_invalid_ids);
	RUN(test_uber_valid);
	RUN(test_uber_percent_encoded);
	RUN(test_uber_invalid);
	RUN(test_uber_value_too_long);
	RUN(test_uber_more);
	RUN(test_uber_malformed);
	RUN(test_from_headers_precedence);
	RUN(test_from_headers_invalid_falls_through);
	RUN(test_from_headers_tracestate);
	RUN(test_from_headers_traceparent_dup);
	RUN(test_from_headers_sampling_only);
	RUN(test_formats_order);
	RUN(test_formats_restrict);
	RUN(test_from_http_head);
	RUN(test_fuzz_parsers);
	return TEST_SUMMARY();
}
