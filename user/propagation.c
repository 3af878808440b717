// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Trace context from request headers. W3C traceparent is parsed as strictly
 * as its specification asks (lower-case hex, exact lengths); B3 and Jaeger
 * are parsed the way their reference implementations do (hex of either
 * case), since meshes and clients differ there and a context we refuse
 * breaks the trace as surely as a wrong one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util.h"
#include "propagation.h"

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * n hex digits (1..2*size) into size bytes, right-aligned: shorter ids are
 * left-padded with zeros. Zero ids are not rejected here.
 */
static bool hex_to_bytes(const char *s, size_t n, uint8_t *out, size_t size)
{
	if (n == 0 || n > 2 * size)
		return false;
	memset(out, 0, size);
	for (size_t i = 0; i < n; i++) {
		int v = hex_digit(s[n - 1 - i]);

		if (v < 0)
			return false;
		out[size - 1 - i / 2] |= i % 2 ? v << 4 : v;
	}
	return true;
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool parse_trace_id(const char *s, size_t n, uint8_t out[16])
{
	uint8_t id[16];

	if ((n != 16 && n != 32) || !hex_to_bytes(s, n, id, sizeof(id)) ||
	    all_zero(id, sizeof(id)))
		return false;
	memcpy(out, id, sizeof(id));
	return true;
}

bool parse_span_id(const char *s, size_t n, uint8_t out[8])
{
	uint8_t id[8];

	if (n != 16 || !hex_to_bytes(s, n, id, sizeof(id)) ||
	    all_zero(id, sizeof(id)))
		return false;
	memcpy(out, id, sizeof(id));
	return true;
}

static void ctx_reset(struct trace_ctx *out)
{
	memset(out, 0, sizeof(*out));
	out->source = CTX_NONE;
	out->sampled = -1;
}

/* version "-" trace-id "-" parent-id "-" trace-flags, W3C Trace Context */
bool ctx_parse_traceparent(const char *v, struct trace_ctx *out)
{
	size_t n = v ? strlen(v) : 0;
	int flags;

	ctx_reset(out);
	if (n < 55 || !is_lower_hex(v, 2) || v[2] != '-' || v[35] != '-' ||
	    v[52] != '-' || !is_lower_hex(v + 3, 32) ||
	    !is_lower_hex(v + 36, 16) || !is_lower_hex(v + 53, 2))
		return false;
	if (memcmp(v, "ff", 2) == 0)
		return false;
	/* Version 00 is exactly 55 long; later ones may append "-..." */
	if (memcmp(v, "00", 2) == 0 ? n != 55 : n > 55 && v[55] != '-')
		return false;
	if (!parse_trace_id(v + 3, 32, out->trace_id) ||
	    !parse_span_id(v + 36, 16, out->span_id))
		return false;
	flags = hex_digit(v[53]) << 4 | hex_digit(v[54]);
	out->sampled = flags & 1;
	out->source = CTX_TRACEPARENT;
	out->valid = true;
	return true;
}

/* A B3 sampling state: "1", "0" or "d" (debug, which implies sampled). */
static bool b3_sampling(const char *s, size_t n, struct trace_ctx *out)
{
	if (n != 1)
		return false;
	switch (s[0]) {
	case '0':
		out->sampled = 0;
		return true;
	case '1':
		out->sampled = 1;
		return true;
	case 'd':
		out->sampled = 1;
		out->debug = true;
		return true;
	}
	return false;
}

/* b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]] or {Sampling} */
bool ctx_parse_b3_single(const char *v, struct trace_ctx *out)
{
	const char *f[4];
	size_t fl[4], nf = 0, n = v ? strlen(v) : 0;

	ctx_reset(out);
	if (n == 1) {
		/* Only a decision: honour it, but there is no context. */
		b3_sampling(v, n, out);
		return false;
	}
	for (size_t i = 0, s = 0; i <= n; i++) {
		if (i < n && v[i] != '-')
			continue;
		if (nf == 4)
			return false;
		f[nf] = v + s;
		fl[nf++] = i - s;
		s = i + 1;
	}
	if (nf < 2 || !parse_trace_id(f[0], fl[0], out->trace_id) ||
	    !parse_span_id(f[1], fl[1], out->span_id))
		goto bad;
	/*
	 * A third field of 16 digits can only be a parent id: some senders
	 * defer sampling and still pass the parent.
	 */
	if (nf == 3 && fl[2] == 16) {
		f[3] = f[2];
		fl[3] = fl[2];
		nf = 4;
	} else if (nf >= 3 && !b3_sampling(f[2], fl[2], out)) {
		goto bad;
	}
	if (nf == 4) {
		if (!parse_span_id(f[3], fl[3], out->parent_id))
			goto bad;
		out->has_parent_id = true;
	}
	out->source = CTX_B3_SINGLE;
	out->valid = true;
	return true;
bad:
	ctx_reset(out);
	return false;
}

static bool str_case_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a;
		char y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;

		if (x != y)
			return false;
	}
	return *a == *b;
}

/* X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId, X-B3-Sampled, X-B3-Flags */
bool ctx_parse_b3_multi(const struct http_ctx_headers *h, struct trace_ctx *out)
{
	ctx_reset(out);
	/* Early B3 senders wrote "true"/"false"; the spec lets us accept them. */
	if (strcmp(h->b3_sampled, "1") == 0 || str_case_eq(h->b3_sampled, "true"))
		out->sampled = 1;
	else if (strcmp(h->b3_sampled, "0") == 0 ||
		 str_case_eq(h->b3_sampled, "false"))
		out->sampled = 0;
	if (strcmp(h->b3_flags, "1") == 0) {
		out->debug = true;
		out->sampled = 1;
	}
	if (!parse_trace_id(h->b3_traceid, strlen(h->b3_traceid),
			    out->trace_id) ||
	    !parse_span_id(h->b3_spanid, strlen(h->b3_spanid), out->span_id)) {
		/* Keep the sampling decision, drop the half-parsed ids. */
		memset(out->trace_id, 0, sizeof(out->trace_id));
		memset(out->span_id, 0, sizeof(out->span_id));
		return false;
	}
	/* A bad parent id costs only the grandparent link, not the trace. */
	if (h->b3_parentspanid[0])
		out->has_parent_id = parse_span_id(h->b3_parentspanid,
						   strlen(h->b3_parentspanid),
						   out->parent_id);
	if (!out->has_parent_id)
		memset(out->parent_id, 0, sizeof(out->parent_id));
	out->source = CTX_B3_MULTI;
	out->valid = true;
	return true;
}

/* uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags} (Jaeger) */
bool ctx_parse_uber(const char *v, struct trace_ctx *out)
{
	char buf[HTTP_CTX_VALUE_MAX];
	const char *f[4];
	size_t fl[4], nf = 0, n = 0;
	uint8_t flags;

	ctx_reset(out);
	if (!v || strlen(v) >= sizeof(buf))
		return false;
	/* Clients that URL-encode header values send ':' as "%3A". */
	for (size_t i = 0; v[i]; i++) {
		if (v[i] == '%' && v[i + 1] == '3' &&
		    (v[i + 2] == 'A' || v[i + 2] == 'a')) {
			buf[n++] = ':';
			i += 2;
		} else {
			buf[n++] = v[i];
		}
	}
	buf[n] = '\0';
	for (size_t i = 0, s = 0; i <= n; i++) {
		if (i < n && buf[i] != ':')
			continue;
		if (nf == 4)
			return false;
		f[nf] = buf + s;
		fl[nf++] = i - s;
		s = i + 1;
	}
	if (nf != 4 ||
	    !hex_to_bytes(f[0], fl[0], out->trace_id, sizeof(out->trace_id)) ||
	    !hex_to_bytes(f[1], fl[1], out->span_id, sizeof(out->span_id)) ||
	    !hex_to_bytes(f[2], fl[2], out->parent_id, sizeof(out->parent_id)) ||
	    !hex_to_bytes(f[3], fl[3], &flags, 1) ||
	    all_zero(out->trace_id, sizeof(out->trace_id)) ||
	    all_zero(out->span_id, sizeof(out->span_id))) {
		ctx_reset(out);
		return false;
	}
	/* Parent "0" is how Jaeger says "no parent". */
	out->has_parent_id = !all_zero(out->parent_id, sizeof(out->parent_id));
	out->debug = flags & 2;
	out->sampled = (flags & 1) || out->debug;
	out->source = CTX_UBER;
	out->valid = true;
	return true;
}

const struct ctx_formats ctx_formats_all = {
	.n = 3, .first = { CTX_FMT_B3, CTX_FMT_TRACECONTEXT, CTX_FMT_JAEGER },
};

static const struct {
	const char *name;
	int fmt;		/* a ctx_format, or one of these: */
} fmt_names[] = {
#define FMT_NO_CONTEXT	-1	/* accepted, reads no trace context */
#define FMT_NONE	-2
#define FMT_UNSUPPORTED	-3	/* an SDK's name weft does not read */
	{ "tracecontext", CTX_FMT_TRACECONTEXT },
	{ "b3", CTX_FMT_B3 },
	{ "b3multi", CTX_FMT_B3 },
	{ "jaeger", CTX_FMT_JAEGER },
	{ "baggage", FMT_NO_CONTEXT },
	{ "none", FMT_NONE },
	{ "xray", FMT_UNSUPPORTED },
	{ "ottrace", FMT_UNSUPPORTED },
};

#define FMT_KNOWN "tracecontext, b3, b3multi, jaeger, baggage, none"

static const char *const fmt_label[CTX_FMT_N] = {
	[CTX_FMT_TRACECONTEXT] = "tracecontext",
	[CTX_FMT_B3] = "b3",
	[CTX_FMT_JAEGER] = "jaeger",
};

int ctx_formats_parse(const char *list, const char *what, bool strict,
		      struct ctx_formats *out)
{
	enum ctx_format seen[CTX_FMT_N];	/* lowest precedence first */
	int n = 0, others = 0;
	bool none = false, blank = true;
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ','), *s = p, *e;
		int fmt = FMT_UNSUPPORTED - 1;	/* unknown */
		size_t len;

		if (!end)
			end = p + strlen(p);
		p = *end ? end + 1 : end;
		for (e = end; s < e && (*s == ' ' || *s == '\t'); s++)
			;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		len = e - s;
		if (!len)
			continue;
		blank = false;
		for (size_t i = 0; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++)
			if (strlen(fmt_names[i].name) == len &&
			    strncasecmp(s, fmt_names[i].name, len) == 0)
				fmt = fmt_names[i].fmt;
		if (fmt == FMT_NONE) {
			none = true;
			continue;
		}
		if (fmt < FMT_NONE) {
			fprintf(stderr, "weft: %s: %s '%.*s' (weft reads " FMT_KNOWN ")%s\n",
				what, fmt == FMT_UNSUPPORTED ? "weft does not read" :
				"unknown propagator", (int)len, s,
				strict ? "" : "; ignored");
			if (strict)
				return -1;
			continue;
		}
		others++;
		if (fmt == FMT_NO_CONTEXT)
			continue;
		/* listed again: its last place counts (the composite's order) */
		for (int i = 0; i < n; i++)
			if (seen[i] == (enum ctx_format)fmt) {
				memmove(seen + i, seen + i + 1, (n - i - 1) * sizeof(seen[0]));
				n--;
				break;
			}
		seen[n++] = fmt;
	}
	if (blank) {
		*out = ctx_formats_all;
		return 0;
	}
	if (none) {
		if (others)
			fprintf(stderr, "weft: %s: 'none' is listed: no trace context is "
				"read, the other names are ignored\n", what);
		n = 0;
	}
	out->n = n;
	for (int i = 0; i < n; i++)
		out->first[i] = seen[n - 1 - i];	/* the last listed wins */
	return 0;
}

int ctx_formats_configure(struct ctx_formats *out, const char *flag)
{
	if (flag)
		return ctx_formats_parse(flag, "--propagators", true, out);
	return ctx_formats_parse(getenv("OTEL_PROPAGATORS"), "OTEL_PROPAGATORS", false,
				 out);
}

void ctx_formats_describe(const struct ctx_formats *f, char *buf, size_t size)
{
	size_t o = 0;

	if (size)
		buf[0] = '\0';
	if (!f->n)
		snprintf(buf, size, "none");
	for (int i = 0; i < f->n && o < size; i++)
		o += snprintf(buf + o, size - o, "%s%s", i ? "," : "",
			      fmt_label[f->first[i]]);
}

static uint64_t invalid_count;

uint64_t ctx_invalid_count(void)
{
	return invalid_count;
}

/* Did h carry context of format f (valid or not)? "b3: 0" and X-B3-Sampled
 * or X-B3-Flags alone are decisions, not context. */
static bool has_ctx_headers(const struct http_ctx_headers *h, enum ctx_format f)
{
	switch (f) {
	case CTX_FMT_TRACECONTEXT:
		return h->traceparent[0] || h->traceparent_dup;
	case CTX_FMT_B3:
		return (h->b3[0] && (h->b3[1] || !strchr("01d", h->b3[0]))) ||
		       h->b3_traceid[0] || h->b3_spanid[0] || h->b3_parentspanid[0];
	case CTX_FMT_JAEGER:
		return h->uber_trace_id[0];
	case CTX_FMT_N:
		break;
	}
	return false;
}

/* Most requests on a node carry no context at all: that is known from the
 * first bytes, without the parsers' three resets of a 560-byte context
 * (twice per exchange, a few per cent of the agent at saturation). */
static bool no_ctx_headers(const struct http_ctx_headers *h)
{
	return !(h->traceparent[0] | h->traceparent_dup | h->b3[0] |
		 h->b3_traceid[0] | h->b3_spanid[0] | h->b3_parentspanid[0] |
		 h->b3_sampled[0] | h->b3_flags[0] | h->uber_trace_id[0]);
}

void ctx_from_headers_in(const struct http_ctx_headers *h,
			 const struct ctx_formats *f, struct trace_ctx *out)
{
	struct trace_ctx single, multi;
	bool b3 = false, seen = false;

	if (no_ctx_headers(h)) {
		ctx_reset(out);
		return;
	}
	if (!f)
		f = &ctx_formats_all;
	for (int i = 0; i < f->n; i++) {
		switch (f->first[i]) {
		case CTX_FMT_TRACECONTEXT:
			/* W3C: more than one traceparent is an invalid traceparent */
			if (h->traceparent[0] && !h->traceparent_dup &&
			    ctx_parse_traceparent(h->traceparent, out)) {
				memcpy(out->tracestate, h->tracestate,
				       sizeof(out->tracestate));
				out->tracestate[sizeof(out->tracestate) - 1] = '\0';
				return;
			}
			break;
		case CTX_FMT_B3:
			/* the single header first, as the B3 specification says */
			b3 = true;
			if (ctx_parse_b3_single(h->b3, &single)) {
				*out = single;
				return;
			}
			if (ctx_parse_b3_multi(h, &multi)) {
				*out = multi;
				return;
			}
			break;
		case CTX_FMT_JAEGER:
			if (h->uber_trace_id[0] && ctx_parse_uber(h->uber_trace_id, out))
				return;
			break;
		case CTX_FMT_N:
			break;
		}
		seen = seen || has_ctx_headers(h, f->first[i]);
	}
	if (seen)
		invalid_count++;
	/*
	 * No usable context, but "b3: 0" or "X-B3-Sampled: 0" still says
	 * what the caller decided, and the caller must be able to honour it.
	 */
	ctx_reset(out);
	if (!b3)
		return;
	if (single.sampled >= 0) {
		out->sampled = single.sampled;
		out->debug = single.debug;
	} else if (multi.sampled >= 0) {
		out->sampled = multi.sampled;
		out->debug = multi.debug;
	}
}

void ctx_from_headers(const struct http_ctx_headers *h, struct trace_ctx *out)
{
	ctx_from_headers_in(h, &ctx_formats_all, out);
}
