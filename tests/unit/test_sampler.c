// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for user/sampler.c: decisions against the OpenTelemetry Go
 * SDK's (tests/unit/data/sampler-vectors.txt, printed by
 * tests/tools/sdksampler from the SDK itself), the ratio's arithmetic at
 * its edges, parsing, the flags and variables that configure it, and the
 * sampler where link.c decides (with OTEL_PROPAGATORS' formats).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "exchange.h"
#include "link.h"
#include "propagation.h"
#include "sampler.h"
#include "test.h"

#define VECTORS "tests/unit/data/sampler-vectors.txt"
#define MAX_IDS 256

static bool hex_id(const char *s, uint8_t out[16])
{
	if (strlen(s) != 32)
		return false;
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = v;
	}
	return true;
}

static uint64_t low64(const char *hex32)
{
	uint8_t id[16];
	uint64_t x = 0;

	if (!hex_id(hex32, id))
		abort();
	for (int i = 8; i < 16; i++)
		x = x << 8 | id[i];
	return x;
}

/* A vector file token: "-" is NULL (unset), %XX that byte. */
static const char *untoken(const char *t, char *buf, size_t size)
{
	size_t o = 0;

	if (strcmp(t, "-") == 0)
		return NULL;
	for (; *t && o + 1 < size; t++) {
		unsigned v;

		if (*t == '%' && sscanf(t + 1, "%2x", &v) == 1) {
			buf[o++] = (char)v;
			t += 2;
		} else {
			buf[o++] = *t;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* --- the Go SDK's decisions ---------------------------------------------- */

static bool test_sdk_vectors(void)
{
	static uint8_t ids[MAX_IDS][16];
	char line[1024], name[128], arg[128], parent[32], bits[MAX_IDS + 2];
	int n_ids = 0, lines = 0, decisions = 0, bad = 0;
	FILE *f = fopen(VECTORS, "r");

	CHECK(f);
	while (fgets(line, sizeof(line), f)) {
		char nb[128], ab[128], idhex[64];
		const char *nm, *ar;
		enum sampler_parent p;
		struct sampler s;
		int idx;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "id %d %63s", &idx, idhex) == 2) {
			if (idx != n_ids || n_ids >= MAX_IDS || !hex_id(idhex, ids[n_ids])) {
				fclose(f);
				fprintf(stderr, "  bad id line: %s", line);
				return false;
			}
			n_ids++;
			continue;
		}
		if (sscanf(line, "%127s %127s %31s %257s", name, arg, parent, bits) != 4 ||
		    (int)strlen(bits) != n_ids) {
			fclose(f);
			fprintf(stderr, "  bad vector line: %s", line);
			return false;
		}
		nm = untoken(name, nb, sizeof(nb));
		ar = untoken(arg, ab, sizeof(ab));
		p = strcmp(parent, "sampled") == 0 ? SAMPLER_PARENT_SAMPLED :
		    strcmp(parent, "notsampled") == 0 ? SAMPLER_PARENT_NOT_SAMPLED :
							SAMPLER_PARENT_NONE;
		sampler_from_strings(&s, nm, ar, "OTEL_TRACES_SAMPLER",
				     "OTEL_TRACES_SAMPLER_ARG", NULL);
		for (int i = 0; i < n_ids; i++) {
			bool want = bits[i] == '1';

			decisions++;
			if (sampler_decide(&s, ids[i], p) != want && bad++ < 10)
				fprintf(stderr, "  %s %s %s id %d: weft %d, the SDK %d\n",
					name, arg, parent, i, !want, want);
		}
		lines++;
	}
	fclose(f);
	CHECK_INT(bad, 0);
	/* the file is whole: ids, every sampler, every parent */
	CHECK(n_ids >= 50);
	CHECK(lines >= 130);
	CHECK(decisions >= 50 * 130);
	return true;
}

/* --- the ratio's arithmetic ---------------------------------------------- */

static bool keeps(double ratio, const char *hex32)
{
	struct sampler s;
	uint8_t id[16];

	sampler_init(&s, SAMPLER_TRACEIDRATIO, ratio);
	if (!hex_id(hex32, id))
		abort();
	return sampler_decide(&s, id, SAMPLER_PARENT_NONE);
}

static bool test_ratio_bounds(void)
{
	struct sampler s;

	sampler_init(&s, SAMPLER_TRACEIDRATIO, 0.5);
	CHECK(s.bound == UINT64_C(1) << 62);
	sampler_init(&s, SAMPLER_TRACEIDRATIO, 0.25);
	CHECK(s.bound == UINT64_C(1) << 61);
	/* 1e-9 * 2^63 = 9223372036.85...: truncated, as Go's uint64() does */
	sampler_init(&s, SAMPLER_TRACEIDRATIO, 1e-9);
	CHECK(s.bound == UINT64_C(9223372036));
	/* 0.1 is not exact in binary: the bound is the double's, not 2^63/10 */
	sampler_init(&s, SAMPLER_TRACEIDRATIO, 0.1);
	CHECK(s.bound == UINT64_C(922337203685477632));
	sampler_init(&s, SAMPLER_TRACEIDRATIO, 0);
	CHECK(s.bound == 0);
	sampler_init(&s, SAMPLER_TRACEIDRATIO, -0.5);
	CHECK(s.ratio == 0.0);
	sampler_init(&s, SAMPLER_TRACEIDRATIO, 7);
	CHECK(s.ratio == 1.0);
	return true;
}

static bool test_ratio_edges(void)
{
	/* low half 2^63 - 1 >> 1 = 2^62 - 1: below 0.5's bound; 2^63 is not */
	CHECK(keeps(0.5, "0123456789abcdef7fffffffffffffff"));
	CHECK(!keeps(0.5, "0123456789abcdef8000000000000000"));
	/* all-zero low half: x = 0, kept by any ratio above 0 */
	CHECK(keeps(1e-9, "4bf92f3577b34da60000000000000000"));
	CHECK(!keeps(0, "4bf92f3577b34da60000000000000000"));
	/* all ones: x = 2^63 - 1, kept only by 1 */
	CHECK(!keeps(0.999999, "ffffffffffffffffffffffffffffffff"));
	CHECK(keeps(1, "ffffffffffffffffffffffffffffffff"));
	/* the high half does not count */
	CHECK(keeps(0.25, "ffffffffffffffff3fffffffffffffff"));
	CHECK(!keeps(0.25, "00000000000000004000000000000000"));
	/* 1e-9: x < 9223372036, low < 18446744072 = 0x44b82fa08 */
	CHECK(keeps(1e-9, "0000000000000000000000044b82fa07"));
	CHECK(!keeps(1e-9, "0000000000000000000000044b82fa08"));
	CHECK(low64("0000000000000000000000044b82fa08") == UINT64_C(18446744072));
	return true;
}

static bool test_ratio_parse(void)
{
	static const struct {
		const char *s;
		double v;
	} good[] = {
		{ "0", 0 }, { "1", 1 }, { "0.5", 0.5 }, { " 0.25\t", 0.25 }, { "+.5", 0.5 },
		{ "5e-1", 0.5 }, { "1e-9", 1e-9 }, { "0x1p-2", 0.25 }, { "0X1.8P-2", 0.375 },
		{ "1e-400", 0 }, { "1.0000000000000001", 1 }, { "-0", 0 },
	};
	static const char *const bad[] = {
		"", " ", "abc", "-0.1", "1.5", "5.", "0.5x", "1_0", "0.5 0.5", "inf",
		"-Inf", "nan", "NaN", "1e400", "0x1", "0x", "0xp-2", "1e", "1e+", ".", "+",
		"0.5\n0.5", "infinity", "0x1p", "--1",
	};
	double v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		if (sampler_ratio_parse(good[i].s, &v) || v != good[i].v) {
			fprintf(stderr, "  '%s' gave %g\n", good[i].s, v);
			return false;
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!sampler_ratio_parse(bad[i], &v)) {
			fprintf(stderr, "  '%s' accepted\n", bad[i]);
			return false;
		}
	return true;
}

static bool test_kind_parse(void)
{
	enum sampler_kind k;

	CHECK(!sampler_kind_parse("traceidratio", &k));
	CHECK_INT(k, SAMPLER_TRACEIDRATIO);
	CHECK(!sampler_kind_parse(" ParentBased_Always_Off\n", &k));
	CHECK_INT(k, SAMPLER_PB_ALWAYS_OFF);
	CHECK(sampler_kind_parse("always-on", &k));
	CHECK(sampler_kind_parse("jaeger_remote", &k));
	CHECK(sampler_kind_parse("", &k));
	CHECK_STR(sampler_kind_name(SAMPLER_PB_TRACEIDRATIO), "parentbased_traceidratio");
	return true;
}

/* --- parents, debug and counters ------------------------------------------ */

static bool test_parent_rules(void)
{
	static const uint8_t id[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff };
	struct sampler s;

	/* parentbased_*: the caller's flag wins; deferred = no caller */
	sampler_init(&s, SAMPLER_PB_ALWAYS_OFF, 1);
	CHECK(sampler_decide(&s, id, SAMPLER_PARENT_SAMPLED));
	CHECK(!sampler_decide(&s, id, SAMPLER_PARENT_NOT_SAMPLED));
	CHECK(!sampler_decide(&s, id, SAMPLER_PARENT_NONE));
	CHECK(sampler_decide(&s, id, SAMPLER_PARENT_DEBUG));
	CHECK(s.st.decisions == 4 && s.st.sampled == 2 && s.st.debug == 1);
	CHECK(s.st.dropped_parent == 1 && s.st.dropped_sampler == 1);
	sampler_init(&s, SAMPLER_PB_ALWAYS_ON, 1);
	CHECK(!sampler_decide(&s, id, SAMPLER_PARENT_NOT_SAMPLED));
	CHECK(sampler_decide(&s, id, SAMPLER_PARENT_NONE));
	/* the others ignore the caller, debug excepted */
	sampler_init(&s, SAMPLER_ALWAYS_OFF, 1);
	CHECK(!sampler_decide(&s, id, SAMPLER_PARENT_SAMPLED));
	CHECK(sampler_decide(&s, id, SAMPLER_PARENT_DEBUG));
	sampler_init(&s, SAMPLER_ALWAYS_ON, 1);
	CHECK(sampler_decide(&s, id, SAMPLER_PARENT_NOT_SAMPLED));
	CHECK(s.st.dropped_parent == 0);
	/* ids with the top bit of the low half set: dropped by 0.5 */
	sampler_init(&s, SAMPLER_TRACEIDRATIO, 0.5);
	CHECK(!sampler_decide(&s, id, SAMPLER_PARENT_SAMPLED));
	CHECK(s.st.dropped_sampler == 1);
	/* no sampler: parentbased_always_on, uncounted */
	CHECK(sampler_decide(NULL, id, SAMPLER_PARENT_NONE));
	CHECK(!sampler_decide(NULL, id, SAMPLER_PARENT_NOT_SAMPLED));
	return true;
}

static bool test_parent_of_ctx(void)
{
	struct http_ctx_headers h;
	struct trace_ctx c;

	memset(&h, 0, sizeof(h));
	strcpy(h.b3_traceid, "463ac35c9f6413ad");
	strcpy(h.b3_spanid, "0020000000000001");
	ctx_from_headers(&h, &c);
	CHECK_INT(sampler_parent_of(&c), SAMPLER_PARENT_NONE);	/* deferred */
	strcpy(h.b3_sampled, "1");
	ctx_from_headers(&h, &c);
	CHECK_INT(sampler_parent_of(&c), SAMPLER_PARENT_SAMPLED);
	strcpy(h.b3_sampled, "0");
	ctx_from_headers(&h, &c);
	CHECK_INT(sampler_parent_of(&c), SAMPLER_PARENT_NOT_SAMPLED);
	strcpy(h.b3_flags, "1");
	ctx_from_headers(&h, &c);
	CHECK_INT(sampler_parent_of(&c), SAMPLER_PARENT_DEBUG);
	/* a bare decision counts: "b3: 0" */
	memset(&h, 0, sizeof(h));
	strcpy(h.b3, "0");
	ctx_from_headers(&h, &c);
	CHECK(!c.valid);
	CHECK_INT(sampler_parent_of(&c), SAMPLER_PARENT_NOT_SAMPLED);
	return true;
}

/* --- flags and variables --------------------------------------------------- */

static struct env env;

static int parse(const char *const *words)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = "weft";
	for (; *words && argc < 15; words++)
		argv[argc++] = (char *)*words;
	argv[argc] = NULL;
	optind = 0;
	cli_free(&env);
	return cli_parse(&env, argc, argv);
}

#define PARSE(...) parse((const char *const[]){ __VA_ARGS__, NULL })

static void unset_all(void)
{
	unsetenv("OTEL_TRACES_SAMPLER");
	unsetenv("OTEL_TRACES_SAMPLER_ARG");
	unsetenv("OTEL_PROPAGATORS");
}

static bool test_config_env_and_flags(void)
{
	char d[128];

	unset_all();
	CHECK_INT(PARSE("-o", "none"), 0);
	CHECK_INT(env.sampler.kind, SAMPLER_PB_ALWAYS_ON);
	CHECK_INT(env.formats.n, 3);
	setenv("OTEL_TRACES_SAMPLER", "traceidratio", 1);
	setenv("OTEL_TRACES_SAMPLER_ARG", "0.25", 1);
	CHECK_INT(PARSE("-o", "none"), 0);
	CHECK_INT(env.sampler.kind, SAMPLER_TRACEIDRATIO);
	CHECK(env.sampler.ratio == 0.25);
	/* each flag wins over its own variable */
	CHECK_INT(PARSE("--sampler", "parentbased_traceidratio"), 0);
	CHECK_INT(env.sampler.kind, SAMPLER_PB_TRACEIDRATIO);
	CHECK(env.sampler.ratio == 0.25);
	CHECK_INT(PARSE("--sampler-arg", "0.5"), 0);
	CHECK_INT(env.sampler.kind, SAMPLER_TRACEIDRATIO);
	CHECK(env.sampler.ratio == 0.5);
	sampler_describe(&env.sampler, d, sizeof(d));
	CHECK_STR(d, "traceidratio 0.5");
	/* a bad variable: the spec's default, with a warning, not an error */
	fprintf(stderr, "  (the warnings below are expected)\n");
	setenv("OTEL_TRACES_SAMPLER_ARG", "half", 1);
	CHECK_INT(PARSE("-o", "none"), 0);
	CHECK(env.sampler.ratio == 1.0);
	setenv("OTEL_TRACES_SAMPLER", "jaeger_remote", 1);
	CHECK_INT(PARSE("-o", "none"), 0);
	CHECK_INT(env.sampler.kind, SAMPLER_PB_ALWAYS_ON);
	/* a bad flag is a usage error */
	CHECK_INT(PARSE("--sampler", "sometimes"), -1);
	CHECK_INT(PARSE("--sampler", "traceidratio", "--sampler-arg", "2"), -1);
	CHECK_INT(PARSE("--sampler-arg", "x"), -1);
	/* an arg for a sampler that takes none: said, and harmless */
	CHECK_INT(PARSE("--sampler", "always_off", "--sampler-arg", "0.5"), 0);
	CHECK_INT(env.sampler.kind, SAMPLER_ALWAYS_OFF);
	unset_all();
	return true;
}

static bool test_config_propagators(void)
{
	char d[128];

	unset_all();
	CHECK_INT(PARSE("-o", "none"), 0);
	ctx_formats_describe(&env.formats, d, sizeof(d));
	CHECK_STR(d, "b3,tracecontext,jaeger");
	setenv("OTEL_PROPAGATORS", "tracecontext,baggage", 1);
	CHECK_INT(PARSE("-o", "none"), 0);
	ctx_formats_describe(&env.formats, d, sizeof(d));
	CHECK_STR(d, "tracecontext");
	CHECK_INT(PARSE("--propagators", "b3multi, jaeger"), 0);
	ctx_formats_describe(&env.formats, d, sizeof(d));
	CHECK_STR(d, "jaeger,b3");
	fprintf(stderr, "  (the warnings below are expected)\n");
	setenv("OTEL_PROPAGATORS", "xray,b3,nonsense", 1);
	CHECK_INT(PARSE("-o", "none"), 0);
	ctx_formats_describe(&env.formats, d, sizeof(d));
	CHECK_STR(d, "b3");
	CHECK_INT(PARSE("--propagators", "b3,nonsense"), -1);
	CHECK_INT(PARSE("--propagators", "xray"), -1);
	CHECK_INT(PARSE("--propagators", "none"), 0);
	CHECK_INT(env.formats.n, 0);
	unset_all();
	return true;
}

/* --- where link.c decides -------------------------------------------------- */

static uint32_t next_seq = 1000;

/* A server request from a caller on another node (no rule 2 wait). */
static bool one_request(struct link *lk, const struct http_ctx_headers *h,
			struct exchange *out)
{
	struct conn_info ci;
	struct http_msg *m = calloc(1, sizeof(*m));
	struct exchange *ex = calloc(1, sizeof(*ex));

	if (!m || !ex)
		abort();
	memset(&ci, 0, sizeof(ci));
	ci.role = WEFT_ROLE_SERVER;
	ci.addr.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", ci.addr.saddr);
	inet_pton(AF_INET, "10.0.9.9", ci.addr.daddr);
	ci.addr.sport = 8080;
	ci.addr.dport = 40000 + next_seq % 1000;
	m->is_request = true;
	strcpy(m->method, "GET");
	if (h)
		m->ctx = *h;
	ex->req = m;
	ex->pid = ex->tid = 4242;
	ex->req_seq = next_seq++;
	link_request(lk, ex, &ci, false, 1);
	link_done(lk, ex, &ci);
	link_forget(lk, ex);
	*out = *ex;
	out->req = NULL;
	out->tracestate = NULL;
	free(ex->tracestate);
	free(m);
	free(ex);
	return true;
}

static bool test_link_ratio_roots(void)
{
	struct sampler s;
	struct link_opts o = { .sampler = &s };
	struct link *lk;
	struct exchange ex;
	int kept = 0;

	sampler_init(&s, SAMPLER_TRACEIDRATIO, 0.5);
	lk = link_new(&o);
	for (int i = 0; i < 400; i++) {
		one_request(lk, NULL, &ex);
		CHECK(!ex.has_parent);
		CHECK(ex.sampled == sampler_ratio_keeps(s.bound, ex.trace_id));
		kept += ex.sampled;
	}
	link_free(lk);
	CHECK_INT(s.st.decisions, 400);
	CHECK_INT(s.st.sampled, kept);
	CHECK(kept > 140 && kept < 260);	/* 400 * 0.5, 5 sigma */
	return true;
}

static bool test_link_parentbased_off(void)
{
	struct sampler s;
	struct link_opts o = { .sampler = &s };
	struct http_ctx_headers h;
	struct link *lk;
	struct exchange ex;

	sampler_init(&s, SAMPLER_PB_ALWAYS_OFF, 1);
	lk = link_new(&o);
	one_request(lk, NULL, &ex);			/* a root: dropped */
	CHECK(!ex.sampled);
	memset(&h, 0, sizeof(h));
	strcpy(h.b3_traceid, "463ac35c9f6413ad48485a3953bb6124");
	strcpy(h.b3_spanid, "0020000000000001");
	one_request(lk, &h, &ex);			/* deferred: the root's */
	CHECK(ex.has_parent);
	CHECK(!ex.sampled);
	strcpy(h.b3_sampled, "1");
	one_request(lk, &h, &ex);			/* a sampled caller: kept */
	CHECK(ex.sampled);
	strcpy(h.b3_sampled, "0");
	strcpy(h.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	one_request(lk, &h, &ex);			/* B3 first: not sampled */
	CHECK(!ex.sampled);
	CHECK(ex.trace_id[0] == 0x46);
	link_free(lk);
	CHECK_INT(s.st.dropped_parent, 1);
	CHECK_INT(s.st.dropped_sampler, 2);
	return true;
}

static bool test_link_formats(void)
{
	struct ctx_formats f;
	struct link_opts o = { .formats = &f };
	struct http_ctx_headers h;
	struct link *lk;
	struct exchange ex;

	memset(&h, 0, sizeof(h));
	strcpy(h.b3_traceid, "463ac35c9f6413ad48485a3953bb6124");
	strcpy(h.b3_spanid, "0020000000000001");
	strcpy(h.b3_sampled, "1");
	strcpy(h.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
	/* as an SDK with this list would: the last listed wins */
	CHECK(!ctx_formats_parse("b3multi,tracecontext", "test", true, &f));
	lk = link_new(&o);
	one_request(lk, &h, &ex);
	CHECK(ex.trace_id[0] == 0x0a && ex.parent_span_id[0] == 0xb7);
	CHECK(!ex.sampled);
	link_free(lk);
	CHECK(!ctx_formats_parse("tracecontext,b3", "test", true, &f));
	lk = link_new(&o);
	one_request(lk, &h, &ex);
	CHECK(ex.trace_id[0] == 0x46 && ex.parent_span_id[7] == 0x01);
	CHECK(ex.sampled);
	link_free(lk);
	/* tracecontext only: X-B3-* is not context, the trace is new */
	h.traceparent[0] = '\0';
	CHECK(!ctx_formats_parse("tracecontext", "test", true, &f));
	lk = link_new(&o);
	one_request(lk, &h, &ex);
	CHECK(!ex.has_parent);
	CHECK(ex.trace_id[0] != 0x46 || ex.trace_id[1] != 0x3a);
	link_free(lk);
	return true;
}

int main(void)
{
	RUN(test_sdk_vectors);
	RUN(test_ratio_bounds);
	RUN(test_ratio_edges);
	RUN(test_ratio_parse);
	RUN(test_kind_parse);
	RUN(test_parent_rules);
	RUN(test_parent_of_ctx);
	RUN(test_config_env_and_flags);
	RUN(test_config_propagators);
	RUN(test_link_ratio_roots);
	RUN(test_link_parentbased_off);
	RUN(test_link_formats);
	cli_free(&env);
	return TEST_SUMMARY();
}
