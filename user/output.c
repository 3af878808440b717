// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The console and JSON-lines writers. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "output.h"
#include "util.h"

/*
 * JSON is built in a line buffer and written with one fwrite: per-character
 * stdio calls cost a third of the agent's time at 40k spans/s.
 */
struct jbuf {
	char *p;
	size_t len, cap;
};

static __attribute__((noinline)) void jb_grow_slow(struct jbuf *b, size_t need)
{
	while (b->len + need > b->cap)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = realloc(b->p, b->cap);
	if (!b->p)
		abort();
}

static inline void jb_grow(struct jbuf *b, size_t need)
{
	if (b->len + need > b->cap)
		jb_grow_slow(b, need);
}

static void jb_put(struct jbuf *b, const char *s, size_t n)
{
	jb_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void jb_puts(struct jbuf *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

static void jb_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	jb_grow(b, n + 1);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

static void jb_u64(struct jbuf *b, uint64_t v)
{
	char tmp[20], *d = u64_dec(v, tmp);

	jb_put(b, d, tmp + sizeof(tmp) - d);
}

static void jb_i64(struct jbuf *b, int64_t v)
{
	if (v < 0) {
		jb_put(b, "-", 1);
		jb_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		jb_u64(b, v);
	}
}

/* A JSON string: runs of plain bytes are copied whole; bytes from the
 * wire that are control characters are escaped, the rest (invalid UTF-8
 * included) passed on. */
/* Bytes copied as they are: not NUL, control, quote, backslash or DEL. */
static const bool plain[256] = {
	[0x20 ... 0x21] = true,		/* '"' is 0x22 */
	[0x23 ... 0x5b] = true,		/* '\\' is 0x5c */
	[0x5d ... 0x7e] = true,
	[0x80 ... 0xff] = true,
};

static void jb_str(struct jbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	jb_put(b, "\"", 1);
	while (*p) {
		const unsigned char *run = p;

		while (plain[*p])
			p++;
		if (p > run)
			jb_put(b, (const char *)run, p - run);
		if (!*p)
			break;
		switch (*p) {
		case '"':
			jb_put(b, "\\\"", 2);
			break;
		case '\\':
			jb_put(b, "\\\\", 2);
			break;
		case '\n':
			jb_put(b, "\\n", 2);
			break;
		case '\r':
			jb_put(b, "\\r", 2);
			break;
		case '\t':
			jb_put(b, "\\t", 2);
			break;
		default:
			jb_printf(b, "\\u%04x", *p);
		}
		p++;
	}
	jb_put(b, "\"", 1);
}

void json_str(FILE *f, const char *s)
{
	struct jbuf b = { 0 };

	jb_str(&b, s);
	fwrite(b.p, 1, b.len, f);
	free(b.p);
}

static void json_attrs(struct jbuf *b, const struct span_attr *a, int n)
{
	jb_put(b, "{", 1);
	for (int i = 0; i < n; i++) {
		if (i)
			jb_put(b, ",", 1);
		if (a[i].key_static) {
			/* our own literal keys need no escaping */
			jb_put(b, "\"", 1);
			jb_puts(b, a[i].key);
			jb_put(b, "\":", 2);
		} else {
			jb_str(b, a[i].key);
			jb_put(b, ":", 1);
		}
		if (a[i].type == SPAN_ATTR_INT)
			jb_i64(b, a[i].num);
		else
			jb_str(b, a[i].str);
	}
	jb_put(b, "}", 1);
}

/* A process's resource is the same in every span of it: escaped once. */
static void json_resource(struct jbuf *b, struct resource *r)
{
	if (!r->json) {
		struct jbuf rb = { 0 };

		json_attrs(&rb, r->attrs, r->n_attrs);
		r->json = rb.p;
		r->json_len = rb.len;
	}
	jb_put(b, r->json, r->json_len);
}

static void output_json(FILE *f, const struct span *s)
{
	static struct jbuf b;
	char tid[33], sid[17], pid[17] = "";

	b.len = 0;
	hex_encode(s->trace_id, 16, tid);
	hex_encode(s->span_id, 8, sid);
	if (s->has_parent)
		hex_encode(s->parent_span_id, 8, pid);
	jb_puts(&b, "{\"trace_id\":\"");
	jb_puts(&b, tid);
	jb_puts(&b, "\",\"span_id\":\"");
	jb_puts(&b, sid);
	jb_puts(&b, "\",\"parent_span_id\":\"");
	jb_puts(&b, pid);
	jb_puts(&b, "\",\"name\":");
	jb_str(&b, s->name);
	jb_puts(&b, s->kind == SPAN_KIND_CLIENT ? ",\"kind\":\"client\"" : ",\"kind\":\"server\"");
	jb_puts(&b, ",\"start_time_unix_nano\":");
	jb_u64(&b, s->start_unix_ns);
	jb_puts(&b, ",\"end_time_unix_nano\":");
	jb_u64(&b, s->end_unix_ns);
	jb_puts(&b, s->status == SPAN_STATUS_ERROR ? ",\"status\":\"error\"" :
		    s->status == SPAN_STATUS_OK ? ",\"status\":\"ok\"" : ",\"status\":\"unset\"");
	if (s->status_message) {
		jb_puts(&b, ",\"status_message\":");
		jb_str(&b, s->status_message);
	}
	if (s->trace_state) {
		jb_puts(&b, ",\"trace_state\":");
		jb_str(&b, s->trace_state);
	}
	jb_puts(&b, s->sampled ? ",\"sampled\":true,\"attributes\":" :
		    ",\"sampled\":false,\"attributes\":");
	json_attrs(&b, s->attrs, s->n_attrs);
	jb_puts(&b, ",\"resource\":");
	if (s->res)
		json_resource(&b, s->res);
	else
		jb_puts(&b, "{}");
	jb_puts(&b, "}\n");
	fwrite(b.p, 1, b.len, f);
}

static const char *attr_s(const struct span *s, const char *k)
{
	const struct span_attr *a = span_find_attr(s, k);

	return a && a->type == SPAN_ATTR_STR ? a->str : "";
}

static int64_t attr_i(const struct span *s, const char *k)
{
	const struct span_attr *a = span_find_attr(s, k);

	return a && a->type == SPAN_ATTR_INT ? a->num : 0;
}

void output_header(FILE *f, enum output_fmt fmt)
{
	if (fmt != OUTPUT_TEXT)
		return;
	fprintf(f, "%-12s %-20s %-6s %-6s %-7s %-32s %4s %10s  %-32s %-16s %s\n",
		"TIME", "SERVICE", "PID", "KIND", "METHOD", "PATH", "CODE",
		"DURATION", "TRACE", "SPAN", "PARENT");
}

static void output_text(FILE *f, const struct span *s)
{
	char tid[33], sid[17], pid[17] = "-", when[16], path[512], codes[16] = "-";
	const struct span_attr *svc = s->res ? resource_find_attr(s->res, "service.name") : NULL;
	time_t secs = s->start_unix_ns / 1000000000ULL;
	struct tm tm;
	double ms = (s->end_unix_ns - s->start_unix_ns) / 1e6;
	int64_t code = attr_i(s, "http.response.status_code");
	const char *q = attr_s(s, "url.query");

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	hex_encode(s->trace_id, 16, tid);
	hex_encode(s->span_id, 8, sid);
	if (s->has_parent)
		hex_encode(s->parent_span_id, 8, pid);
	snprintf(path, sizeof(path), "%s%s%s", attr_s(s, "url.path"), q[0] ? "?" : "", q);
	if (code)
		snprintf(codes, sizeof(codes), "%" PRId64, code);
	fprintf(f, "%s.%03u %-20.20s %-6" PRId64 " %-6s %-7.7s %-32.*s %4s %8.3fms  %s %s %s%s%s%s\n",
		when, (unsigned)(s->start_unix_ns / 1000000 % 1000),
		svc && svc->str ? svc->str : "?",
		s->res ? (int64_t)s->res->pid : 0,
		s->kind == SPAN_KIND_CLIENT ? "CLIENT" : "SERVER",
		attr_s(s, "http.request.method"), 32, path,
		codes, ms, tid, sid, pid,
		s->status == SPAN_STATUS_ERROR ? "  ERROR" : "",
		s->status_message ? ": " : "",
		s->status_message ? s->status_message : "");
}

void output_span(FILE *f, enum output_fmt fmt, const struct span *s)
{
	if (fmt == OUTPUT_JSON)
		output_json(f, s);
	else if (fmt == OUTPUT_TEXT)
		output_text(f, s);
}
