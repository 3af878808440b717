// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_propagation: the trace-context parsers (user/propagation.c): B3
 * multi-header and single-header, traceparent/tracestate, uber-trace-id,
 * the id parsers, the choice between formats (ctx_from_headers_in) and the
 * OTEL_PROPAGATORS list parser.
 *
 * Input: fields separated by '\n': the propagators list, then the values
 * of X-B3-TraceId, -SpanId, -ParentSpanId, -Sampled, -Flags, b3,
 * traceparent, tracestate, uber-trace-id (each cut to what http.c keeps),
 * then one byte of flags (traceparent seen twice; which formats, in which
 * order, when the list is not used).
 *
 * Invariants beyond "no crash":
 *  - a valid context has a non-zero trace id and span id, the source of
 *    the parser that made it, sampled in {-1, 0, 1}; an invalid one has
 *    source CTX_NONE;
 *  - round trip: a valid context written back in its format's canonical
 *    form (lower-case hex, 32-digit trace id) parses to the same ids,
 *    parent and sampled decision;
 *  - parse_trace_id/parse_span_id accept only 16/32 and 16 hex digits,
 *    and the bytes they give are those digits (left-padded);
 *  - ctx_from_headers_in gives the context of the first format, in the
 *    order asked, whose header parses: an invalid header never hides a
 *    valid one, and contexts are never mixed; tracestate only with
 *    traceparent;
 *  - ctx_formats_parse gives at most one entry per format, each a known
 *    one, and ctx_formats_describe terminates its buffer.
 */
#include <ctype.h>
#include "fuzz.h"
#include "propagation.h"
#include "span.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	devnull = fopen("/dev/null", "w");
	return 0;
}

static void check_ctx(const struct trace_ctx *c, bool valid, enum ctx_source src)
{
	FUZZ_ASSERT(c->valid == valid);
	FUZZ_ASSERT(c->sampled >= -1 && c->sampled <= 1);
	FUZZ_ASSERT(memchr(c->tracestate, '\0', sizeof(c->tracestate)));
	if (valid) {
		FUZZ_ASSERT(c->source == src);
		FUZZ_ASSERT(!id_is_zero(c->trace_id, 16));
		FUZZ_ASSERT(!id_is_zero(c->span_id, 8));
	} else {
		FUZZ_ASSERT(c->source == CTX_NONE);
	}
}

static void same_ids(const struct trace_ctx *a, const struct trace_ctx *b)
{
	FUZZ_ASSERT(memcmp(a->trace_id, b->trace_id, 16) == 0);
	FUZZ_ASSERT(memcmp(a->span_id, b->span_id, 8) == 0);
}

static void same_ctx(const struct trace_ctx *a, const struct trace_ctx *b)
{
	FUZZ_ASSERT(a->valid == b->valid && a->source == b->source);
	FUZZ_ASSERT(a->sampled == b->sampled && a->debug == b->debug);
	FUZZ_ASSERT(a->has_parent_id == b->has_parent_id);
	if (a->valid)
		same_ids(a, b);
	if (a->has_parent_id)
		FUZZ_ASSERT(memcmp(a->parent_id, b->parent_id, 8) == 0);
}

static void roundtrip(const struct trace_ctx *c)
{
	char t[33], s[17], p[17], buf[128];
	struct trace_ctx r;

	hex_encode(c->trace_id, 16, t);
	hex_encode(c->span_id, 8, s);
	hex_encode(c->parent_id, 8, p);
	switch (c->source) {
	case CTX_TRACEPARENT:
		snprintf(buf, sizeof(buf), "00-%s-%s-%02x", t, s, c->sampled == 1);
		FUZZ_ASSERT(ctx_parse_traceparent(buf, &r));
		same_ids(c, &r);
		FUZZ_ASSERT(r.sampled == (c->sampled == 1));
		break;
	case CTX_B3_SINGLE: {
		const char *st = c->debug ? "d" : c->sampled == 1 ? "1" :
				 c->sampled == 0 ? "0" : NULL;
		int n = snprintf(buf, sizeof(buf), "%s-%s", t, s);

		/* the sampling state comes before a parent: "-1-<parent>" */
		if (c->has_parent_id && !st)
			break;
		if (st)
			n += snprintf(buf + n, sizeof(buf) - n, "-%s", st);
		if (c->has_parent_id)
			snprintf(buf + n, sizeof(buf) - n, "-%s", p);
		FUZZ_ASSERT(ctx_parse_b3_single(buf, &r));
		same_ids(c, &r);
		FUZZ_ASSERT(r.sampled == c->sampled && r.debug == c->debug);
		FUZZ_ASSERT(r.has_parent_id == c->has_parent_id);
		if (c->has_parent_id)
			FUZZ_ASSERT(memcmp(r.parent_id, c->parent_id, 8) == 0);
		break;
	}
	case CTX_UBER:
		snprintf(buf, sizeof(buf), "%s:%s:0:%x", t, s,
			 (c->sampled == 1) | (c->debug ? 2 : 0));
		FUZZ_ASSERT(ctx_parse_uber(buf, &r));
		same_ids(c, &r);
		FUZZ_ASSERT(r.sampled == (c->sampled == 1));
		break;
	default:
		break;
	}
}

/* parse_*_id on raw bytes: accepted only as the digits they are. */
static void check_id_parsers(const char *s, size_t n)
{
	uint8_t id[16];
	char h[33], want[33];

	if (parse_trace_id(s, n, id)) {
		FUZZ_ASSERT(n == 16 || n == 32);
		FUZZ_ASSERT(!id_is_zero(id, 16));
		hex_encode(id, 16, h);
		memset(want, '0', 32);
		for (size_t i = 0; i < n; i++) {
			FUZZ_ASSERT(isxdigit((unsigned char)s[i]));
			want[32 - n + i] = (char)tolower((unsigned char)s[i]);
		}
		want[32] = '\0';
		FUZZ_ASSERT(strcmp(h, want) == 0);
	}
	if (parse_span_id(s, n, id)) {
		FUZZ_ASSERT(n == 16);
		FUZZ_ASSERT(!id_is_zero(id, 8));
		hex_encode(id, 8, h);
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT(h[i] == tolower((unsigned char)s[i]));
	}
}

static void field(struct fuzz_in *in, char dst[HTTP_CTX_VALUE_MAX])
{
	size_t n;
	const uint8_t *p = fz_until(in, '\n', &n);

	http_copy_cut(dst, HTTP_CTX_VALUE_MAX, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	static struct http_ctx_headers h;
	struct trace_ctx tp, b3s, b3m, ub, got, want;
	struct ctx_formats f;
	const uint8_t *lp;
	char *list, desc[64];
	size_t ln;
	uint8_t flags;
	bool use_list, found = false;
	FILE *saved;
	int rc;

	lp = fz_until(&in, '\n', &ln);
	list = fz_strndup(lp, ln);
	memset(&h, 0, sizeof(h));
	field(&in, h.b3_traceid);
	field(&in, h.b3_spanid);
	field(&in, h.b3_parentspanid);
	field(&in, h.b3_sampled);
	field(&in, h.b3_flags);
	field(&in, h.b3);
	field(&in, h.traceparent);
	field(&in, h.tracestate);
	field(&in, h.uber_trace_id);
	flags = fz_u8(&in);
	h.traceparent_dup = flags & 1;
	use_list = flags & 2;

	/* The list parser prints its warnings: not per run here. */
	saved = stderr;
	stderr = devnull;
	rc = ctx_formats_parse(list, "fuzz", flags & 4, &f);
	stderr = saved;
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == 0) {
		FUZZ_ASSERT(f.n >= 0 && f.n <= CTX_FMT_N);
		for (int i = 0; i < f.n; i++) {
			FUZZ_ASSERT(f.first[i] < CTX_FMT_N);
			for (int j = i + 1; j < f.n; j++)
				FUZZ_ASSERT(f.first[i] != f.first[j]);
		}
		ctx_formats_describe(&f, desc, sizeof(desc));
		FUZZ_ASSERT(memchr(desc, '\0', sizeof(desc)));
	}
	if (!use_list || rc != 0) {
		/* the order from the flags: any permutation, any length */
		static const enum ctx_format perm[6][3] = {
			{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
			{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
		};

		f.n = (flags >> 3) % 4;
		memcpy(f.first, perm[(flags >> 5) % 6], sizeof(f.first));
	}
	free(list);

	check_ctx(&tp, ctx_parse_traceparent(h.traceparent, &tp), CTX_TRACEPARENT);
	check_ctx(&b3s, ctx_parse_b3_single(h.b3, &b3s), CTX_B3_SINGLE);
	check_ctx(&b3m, ctx_parse_b3_multi(&h, &b3m), CTX_B3_MULTI);
	check_ctx(&ub, ctx_parse_uber(h.uber_trace_id, &ub), CTX_UBER);
	roundtrip(&tp);
	roundtrip(&b3s);
	roundtrip(&ub);
	check_id_parsers(h.b3_traceid, strlen(h.b3_traceid));
	check_id_parsers(h.b3_spanid, strlen(h.b3_spanid));

	/* The first format in f's order whose header parses wins, whole. */
	memset(&want, 0, sizeof(want));
	for (int i = 0; i < f.n && !found; i++) {
		switch (f.first[i]) {
		case CTX_FMT_TRACECONTEXT:
			if (h.traceparent[0] && !h.traceparent_dup && tp.valid) {
				want = tp;
				found = true;
			}
			break;
		case CTX_FMT_B3:
			if (b3s.valid || b3m.valid) {
				want = b3s.valid ? b3s : b3m;
				found = true;
			}
			break;
		case CTX_FMT_JAEGER:
			if (h.uber_trace_id[0] && ub.valid) {
				want = ub;
				found = true;
			}
			break;
		default:
			FUZZ_ASSERT(0);
		}
	}
	ctx_from_headers_in(&h, &f, &got);
	FUZZ_ASSERT(got.valid == found);
	if (found) {
		same_ctx(&got, &want);
		if (got.source == CTX_TRACEPARENT)
			FUZZ_ASSERT(strncmp(got.tracestate, h.tracestate,
					    sizeof(got.tracestate) - 1) == 0);
		else
			FUZZ_ASSERT(got.tracestate[0] == '\0');
	} else {
		FUZZ_ASSERT(got.source == CTX_NONE && got.tracestate[0] == '\0');
	}
	return 0;
}
