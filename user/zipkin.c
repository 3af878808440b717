// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Spans -> a JSON array of Zipkin v2 spans (the mapping is in zipkin.h).
 * Written straight into one growing buffer: no JSON object model, no
 * per-value allocation. A resource's tags and service name are escaped once
 * per batch and copied into each of its spans.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"
#include "utf8.h"
#include "zipkin.h"
#include "otlp.h"	/* OTLP_SCOPE_NAME, WEFT_VERSION: one scope for both */

/* The process's own attributes, the config's extras, and service.name. */
#define RES_MAX (RESOURCE_MAX_ATTRS + 32 + 1)

struct zbuf {
	char *p;
	size_t len, cap;
	bool oom;		/* a growth failed: the result is discarded */
};

static __attribute__((noinline)) bool zb_grow(struct zbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->oom)
		return false;
	while (cap < b->len + need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static inline bool zb_room(struct zbuf *b, size_t need)
{
	return b->len + need <= b->cap || zb_grow(b, need);
}

static inline void zb_put(struct zbuf *b, const void *s, size_t n)
{
	if (n && zb_room(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

#define ZB_LIT(b, lit) zb_put((b), (lit), sizeof(lit) - 1)

static void zb_u64(struct zbuf *b, uint64_t v)
{
	char tmp[20], *d = u64_dec(v, tmp);

	zb_put(b, d, tmp + sizeof(tmp) - d);
}

static void zb_i64(struct zbuf *b, int64_t v)
{
	if (v < 0) {
		ZB_LIT(b, "-");
		zb_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		zb_u64(b, v);
	}
}

static const char hexdig[] = "0123456789abcdef";

/* "id" as lower-case hex, quoted. */
static void zb_hex(struct zbuf *b, const uint8_t *id, size_t n)
{
	if (!zb_room(b, 2 * n + 2))
		return;
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		b->p[b->len++] = hexdig[id[i] >> 4];
		b->p[b->len++] = hexdig[id[i] & 15];
	}
	b->p[b->len++] = '"';
}

/*
 * Byte classes for JSON strings: 0 = copied as is (printable ASCII but
 * '"' and '\\'; DEL needs no escape in JSON), 1 = escaped (control
 * characters, '"', '\\', and NUL, which ends the string), 2 = the first byte
 * of a multi-byte UTF-8 sequence or not UTF-8 at all.
 */
static const uint8_t byte_class[256] = {
	[0x00 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
	[0x80 ... 0xff] = 2,
};

/* A JSON string: runs of plain bytes and well-formed UTF-8 are copied
 * whole, the rest escaped or replaced. */
static void zb_str(struct zbuf *b, const char *str)
{
	const unsigned char *p = (const unsigned char *)(str ? str : "");

	ZB_LIT(b, "\"");
	for (;;) {
		const unsigned char *run = p;
		int n = 0;

		for (;;) {
			while (!byte_class[*p])
				p++;
			/* 4: a sequence's most; the string's NUL is never a
			 * continuation byte, so nothing past it is read */
			if (byte_class[*p] != 2 || (n = utf8_seq_len(p, 4)) < 0)
				break;
			p += n;
		}
		if (p > run)
			zb_put(b, run, p - run);
		if (!*p)
			break;
		if (byte_class[*p] == 2) {
			zb_put(b, "\xef\xbf\xbd", 3);	/* U+FFFD */
			p += -n;
			continue;
		}
		switch (*p) {
		case '"':
			ZB_LIT(b, "\\\"");
			break;
		case '\\':
			ZB_LIT(b, "\\\\");
			break;
		case '\b':
			ZB_LIT(b, "\\b");
			break;
		case '\f':
			ZB_LIT(b, "\\f");
			break;
		case '\n':
			ZB_LIT(b, "\\n");
			break;
		case '\r':
			ZB_LIT(b, "\\r");
			break;
		case '\t':
			ZB_LIT(b, "\\t");
			break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hexdig[*p >> 4], hexdig[*p & 15] };

			zb_put(b, u, sizeof(u));
		}
		}
		p++;
	}
	ZB_LIT(b, "\"");
}

/* An attribute value as a tag value: Zipkin tags are strings. */
static void zb_attr_value(struct zbuf *b, const struct span_attr *a)
{
	if (a->type == SPAN_ATTR_INT) {
		ZB_LIT(b, "\"");
		zb_i64(b, a->num);
		ZB_LIT(b, "\"");
	} else {
		zb_str(b, a->str);
	}
}

/* ,"key":"value" */
static void zb_tag(struct zbuf *b, const char *key, bool key_plain,
		   const struct span_attr *a, const char *str)
{
	ZB_LIT(b, ",");
	if (key_plain) {
		/* weft's own literal keys need no escaping */
		ZB_LIT(b, "\"");
		zb_put(b, key, strlen(key));
		ZB_LIT(b, "\"");
	} else {
		zb_str(b, key);
	}
	ZB_LIT(b, ":");
	if (a)
		zb_attr_value(b, a);
	else
		zb_str(b, str);
}

/* Keys the mapping writes itself; attributes of these names are not sent. */
static bool reserved_key(const char *k)
{
	switch (k[0]) {
	case 'e':
		return strcmp(k, "error") == 0;
	case 'o':
		return strcmp(k, "otel.status_code") == 0 ||
		       strcmp(k, "otel.status_description") == 0 ||
		       strncmp(k, "otel.scope.", 11) == 0 ||
		       strncmp(k, "otel.library.", 13) == 0;
	case 'w':
		return strcmp(k, "w3c.tracestate") == 0;
	default:
		return false;
	}
}

static uint64_t key_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	while (*k) {
		h ^= (unsigned char)*k++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* One resource of the batch, escaped once. */
struct res_z {
	const struct resource *key;
	struct zbuf svc;	/* "service name", quoted */
	struct zbuf tags;	/* ,"k":"v" per attribute but service.name */
	int n;
	uint32_t off[RES_MAX + 1];	/* where each tag starts in tags */
	uint64_t hash[RES_MAX];
	const char *keys[RES_MAX];	/* the resource's or the config's */
};

struct res_entry {
	const char *key;
	const struct span_attr *a;	/* NULL: str */
	const char *str;
};

/* Adds or replaces key; later sources win, as in otlp.c. */
static int res_put(struct res_entry *e, int n, const char *key,
		   const struct span_attr *a, const char *str)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(e[i].key, key) == 0)
			break;
	if (i == RES_MAX)
		return n;
	e[i] = (struct res_entry){ key, a, str };
	return i == n ? n + 1 : n;
}

/*
 * Does r already have a tag whose key is written as key would be? Keys
 * that are not UTF-8 (a process's OTEL_RESOURCE_ATTRIBUTES says anything)
 * can be written alike, each ill-formed run as U+FFFD: "\xf7\xf7" and
 * "\xf7\xf3", or "\xff" and a real U+FFFD. Only keys with bytes past
 * ASCII can collide so (tests/fuzz/fuzz_zipkin.c found it).
 */
static bool tag_key_written(const struct res_z *r, const char *key)
{
	struct zbuf q = { 0 };
	bool dup = false;
	const char *k;

	for (k = key; *k && !((unsigned char)*k & 0x80); k++)
		;
	if (!*k)
		return false;
	zb_str(&q, key);
	for (int j = 0; j < r->n && !q.oom && !dup; j++) {
		size_t end = j + 1 < r->n ? r->off[j + 1] : r->tags.len;

		/* tag j is ,"key":value */
		dup = end - r->off[j] > q.len + 1 &&
		      memcmp(r->tags.p + r->off[j] + 1, q.p, q.len) == 0;
	}
	free(q.p);
	return dup;
}

static struct res_z *res_build(const struct resource *res,
			       const struct exporter_config *cfg)
{
	struct res_entry e[RES_MAX];
	struct res_z *r = calloc(1, sizeof(*r));
	const struct res_entry *svc = NULL;
	int n = 0;

	if (!r)
		return NULL;
	r->key = res;
	/* Precedence as in otlp.c's fill_resource: what weft found out,
	 * then OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME. */
	for (int i = 0; res && i < res->n_attrs; i++)
		n = res_put(e, n, res->attrs[i].key, &res->attrs[i], NULL);
	for (int i = 0; cfg && i < cfg->n_res_attrs; i++)
		n = res_put(e, n, cfg->res_keys[i], NULL, cfg->res_vals[i]);
	if (cfg && cfg->service_name)
		n = res_put(e, n, "service.name", NULL, cfg->service_name);

	for (int i = 0; i < n; i++) {
		if (strcmp(e[i].key, "service.name") == 0) {
			svc = &e[i];
			continue;
		}
		/* the first of keys written alike is kept: no tag twice */
		if (reserved_key(e[i].key) || tag_key_written(r, e[i].key))
			continue;
		r->off[r->n] = r->tags.len;
		r->hash[r->n] = key_hash(e[i].key);
		r->keys[r->n++] = e[i].key;
		zb_tag(&r->tags, e[i].key, false, e[i].a, e[i].str);
	}
	r->off[r->n] = r->tags.len;
	if (svc && svc->a)
		zb_attr_value(&r->svc, svc->a);
	else
		zb_str(&r->svc, svc ? svc->str : "unknown_service");
	if (r->tags.oom || r->svc.oom) {
		free(r->tags.p);
		free(r->svc.p);
		free(r);
		return NULL;
	}
	return r;
}

static void res_free(struct res_z *r)
{
	if (!r)
		return;
	free(r->tags.p);
	free(r->svc.p);
	free(r);
}

/* ,"ipv4":"..." or ,"ipv6":"..." when s is an address literal (validated:
 * Zipkin's parsers reject a bad one, and with it the whole request). */
static void zb_ip(struct zbuf *b, const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;
	char v4[INET_ADDRSTRLEN];

	if (!s || !*s)
		return;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		ZB_LIT(b, ",\"ipv4\":\"");
		zb_put(b, s, strlen(s));
		ZB_LIT(b, "\"");
	} else if (inet_pton(AF_INET6, s, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6) &&
		    inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof(v4))) {
			ZB_LIT(b, ",\"ipv4\":\"");
			zb_put(b, v4, strlen(v4));
		} else {
			ZB_LIT(b, ",\"ipv6\":\"");
			zb_put(b, s, strlen(s));
		}
		ZB_LIT(b, "\"");
	}
}

static void zb_port(struct zbuf *b, const struct span_attr *a)
{
	if (a && a->type == SPAN_ATTR_INT && a->num > 0 && a->num < 65536) {
		ZB_LIT(b, ",\"port\":");
		zb_i64(b, a->num);
	}
}

static const char *attr_str(const struct span_attr *a)
{
	return a && a->type == SPAN_ATTR_STR && a->str && a->str[0] ? a->str : NULL;
}

/*
 * Fields written with a leading comma after an opening position: the
 * first comma becomes the brace. Returns false (and takes the name back)
 * when nothing was written.
 */
static bool zb_close_object(struct zbuf *b, size_t name_at, size_t open_at)
{
	if (b->oom)
		return false;
	if (b->len == open_at) {
		b->len = name_at;
		return false;
	}
	b->p[open_at] = '{';
	ZB_LIT(b, "}");
	return true;
}

static void put_span(struct zbuf *b, const struct span *s,
		     const struct res_z *r, const struct zbuf *scope)
{
	const struct span_attr *peer_addr = NULL, *peer_port = NULL,
			       *srv_addr = NULL, *srv_port = NULL, *peer_svc = NULL;
	uint64_t hash[SPAN_MAX_ATTRS];
	bool skip[SPAN_MAX_ATTRS], collide = false;
	bool server = s->kind == SPAN_KIND_SERVER, client = s->kind == SPAN_KIND_CLIENT;
	uint64_t dur;
	size_t name_at, open_at;

	/* One pass over the attributes: the endpoints' sources, the keys
	 * the mapping reserves, and the keys a resource tag must yield to. */
	for (int i = 0; i < s->n_attrs; i++) {
		const struct span_attr *a = &s->attrs[i];
		const char *k = a->key;

		skip[i] = reserved_key(k);
		if (k[0] == 'n') {
			if (strcmp(k, "network.peer.address") == 0)
				peer_addr = a;
			else if (strcmp(k, "network.peer.port") == 0)
				peer_port = a;
		} else if (k[0] == 's') {
			if (strcmp(k, "server.address") == 0)
				srv_addr = a;
			else if (strcmp(k, "server.port") == 0)
				srv_port = a;
		} else if (k[0] == 'p' && strcmp(k, "peer.service") == 0) {
			peer_svc = a;
		}
		if (r->n)
			hash[i] = key_hash(k);
	}
	for (int j = 0; j < r->n && !collide; j++)
		for (int i = 0; i < s->n_attrs; i++)
			if (hash[i] == r->hash[j] && !skip[i]) {
				collide = true;
				break;
			}

	ZB_LIT(b, "{\"traceId\":");
	zb_hex(b, s->trace_id, sizeof(s->trace_id));
	ZB_LIT(b, ",\"id\":");
	zb_hex(b, s->span_id, sizeof(s->span_id));
	if (s->has_parent && !id_is_zero(s->parent_span_id, sizeof(s->parent_span_id))) {
		ZB_LIT(b, ",\"parentId\":");
		zb_hex(b, s->parent_span_id, sizeof(s->parent_span_id));
	}
	ZB_LIT(b, ",\"name\":");
	zb_str(b, s->name);
	if (server)
		ZB_LIT(b, ",\"kind\":\"SERVER\"");
	else if (client)
		ZB_LIT(b, ",\"kind\":\"CLIENT\"");
	if (s->start_unix_ns >= 1000) {
		ZB_LIT(b, ",\"timestamp\":");
		zb_u64(b, s->start_unix_ns / 1000);
	}
	dur = s->end_unix_ns > s->start_unix_ns ?
	      (s->end_unix_ns - s->start_unix_ns) / 1000 : 0;
	ZB_LIT(b, ",\"duration\":");
	zb_u64(b, dur ? dur : 1);

	ZB_LIT(b, ",\"localEndpoint\":{\"serviceName\":");
	zb_put(b, r->svc.p, r->svc.len);
	if (server) {
		zb_ip(b, attr_str(srv_addr));
		zb_port(b, srv_port);
	}
	ZB_LIT(b, "}");

	name_at = b->len;
	ZB_LIT(b, ",\"remoteEndpoint\":");
	open_at = b->len;
	if (client) {
		const char *name = attr_str(peer_svc) ? attr_str(peer_svc) : attr_str(srv_addr);

		if (name) {
			ZB_LIT(b, ",\"serviceName\":");
			zb_str(b, name);
		}
	}
	zb_ip(b, attr_str(peer_addr));
	zb_port(b, peer_port);
	zb_close_object(b, name_at, open_at);

	name_at = b->len;
	ZB_LIT(b, ",\"tags\":");
	open_at = b->len;
	for (int i = 0; i < s->n_attrs; i++)
		if (!skip[i])
			zb_tag(b, s->attrs[i].key, s->attrs[i].key_static,
			       &s->attrs[i], NULL);
	if (!collide) {
		zb_put(b, r->tags.p, r->tags.len);
	} else {
		/* A span attribute of the same key wins: copy the others. */
		for (int j = 0; j < r->n; j++) {
			bool dup = false;

			for (int i = 0; i < s->n_attrs && !dup; i++)
				dup = !skip[i] && hash[i] == r->hash[j] &&
				      strcmp(s->attrs[i].key, r->keys[j]) == 0;
			if (!dup)
				zb_put(b, r->tags.p + r->off[j], r->off[j + 1] - r->off[j]);
		}
	}
	zb_put(b, scope->p, scope->len);
	if (s->trace_state && s->trace_state[0]) {
		ZB_LIT(b, ",\"w3c.tracestate\":");
		zb_str(b, s->trace_state);
	}
	if (s->status == SPAN_STATUS_ERROR) {
		ZB_LIT(b, ",\"otel.status_code\":\"ERROR\",\"error\":");
		zb_str(b, s->status_message ? s->status_message : "");
		if (s->status_message && s->status_message[0]) {
			ZB_LIT(b, ",\"otel.status_description\":");
			zb_str(b, s->status_message);
		}
	} else if (s->status == SPAN_STATUS_OK) {
		ZB_LIT(b, ",\"otel.status_code\":\"OK\"");
	}
	zb_close_object(b, name_at, open_at);
	ZB_LIT(b, "}");
}

int zipkin_encode(struct span *const *spans, size_t n,
		  const struct exporter_config *cfg, uint8_t **out,
		  size_t *out_len)
{
	struct zbuf b = { 0 }, scope = { 0 };
	struct res_z **rz = NULL, *last = NULL;
	size_t n_res = 0;
	int err = -ENOMEM;

	*out = NULL;
	*out_len = 0;
	/* calloc(0) may return NULL; one spare keeps n == 0 simple. */
	rz = calloc(n + 1, sizeof(*rz));
	if (!rz)
		goto cleanup;
	zb_tag(&scope, "otel.scope.name", true, NULL, OTLP_SCOPE_NAME);
	zb_tag(&scope, "otel.scope.version", true, NULL, WEFT_VERSION);
	zb_tag(&scope, "otel.library.name", true, NULL, OTLP_SCOPE_NAME);
	zb_tag(&scope, "otel.library.version", true, NULL, WEFT_VERSION);
	/* About 1 KiB per span of weft's: one allocation for most batches. */
	zb_room(&b, 1024 * (n + 1));
	ZB_LIT(&b, "[");
	for (size_t i = 0; i < n; i++) {
		const struct resource *res = spans[i]->res;
		struct res_z *r = last && last->key == res ? last : NULL;

		/* A handful of processes per batch: a linear search. */
		for (size_t g = 0; !r && g < n_res; g++)
			if (rz[g]->key == res)
				r = rz[g];
		if (!r) {
			r = rz[n_res] = res_build(res, cfg);
			if (!r)
				goto cleanup;
			n_res++;
		}
		last = r;
		if (i)
			ZB_LIT(&b, ",");
		put_span(&b, spans[i], r, &scope);
	}
	ZB_LIT(&b, "]");
	if (b.oom || scope.oom)
		goto cleanup;
	*out = (uint8_t *)b.p;
	*out_len = b.len;
	b.p = NULL;
	err = 0;
cleanup:
	free(b.p);
	free(scope.p);
	for (size_t g = 0; rz && g < n_res; g++)
		res_free(rz[g]);
	free(rz);
	return err;
}

char *zipkin_json_quote(const char *s)
{
	struct zbuf b = { 0 };

	zb_str(&b, s);
	ZB_LIT(&b, "\0");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
