// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The console and JSON-lines writers. */
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include "output.h"

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* bytes from the wire: control bytes escaped, the
			 * rest passed on (invalid UTF-8 included) */
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_attrs(FILE *f, const struct span_attr *a, int n)
{
	fputc('{', f);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_str(f, a[i].key);
		fputc(':', f);
		if (a[i].type == SPAN_ATTR_INT)
			fprintf(f, "%" PRId64, a[i].num);
		else
			json_str(f, a[i].str);
	}
	fputc('}', f);
}

static void output_json(FILE *f, const struct span *s)
{
	char tid[33], sid[17], pid[17] = "";

	hex_encode(s->trace_id, 16, tid);
	hex_encode(s->span_id, 8, sid);
	if (s->has_parent)
		hex_encode(s->parent_span_id, 8, pid);
	fprintf(f, "{\"trace_id\":\"%s\",\"span_id\":\"%s\",\"parent_span_id\":\"%s\","
		"\"name\":", tid, sid, pid);
	json_str(f, s->name);
	fprintf(f, ",\"kind\":\"%s\",\"start_time_unix_nano\":%" PRIu64
		",\"end_time_unix_nano\":%" PRIu64 ",\"status\":\"%s\"",
		s->kind == SPAN_KIND_CLIENT ? "client" : "server",
		s->start_unix_ns, s->end_unix_ns,
		s->status == SPAN_STATUS_ERROR ? "error" :
		s->status == SPAN_STATUS_OK ? "ok" : "unset");
	if (s->status_message) {
		fputs(",\"status_message\":", f);
		json_str(f, s->status_message);
	}
	if (s->trace_state) {
		fputs(",\"trace_state\":", f);
		json_str(f, s->trace_state);
	}
	fprintf(f, ",\"sampled\":%s,\"attributes\":", s->sampled ? "true" : "false");
	json_attrs(f, s->attrs, s->n_attrs);
	fputs(",\"resource\":", f);
	if (s->res)
		json_attrs(f, s->res->attrs, s->res->n_attrs);
	else
		fputs("{}", f);
	fputs("}\n", f);
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
