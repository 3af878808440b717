/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Spans made from fuzz input, for the encoder targets (fuzz_otlp.c,
 * fuzz_zipkin.c): ids, times, kind, status, names and attribute values are
 * arbitrary bytes (control characters, invalid UTF-8, quotes, backslashes),
 * as they reach the encoders from request heads; attribute keys come from
 * the ones weft writes plus those the Zipkin mapping reserves, so the
 * "no key twice" rule is exercised; resources are shared between spans and
 * carry arbitrary keys and values too. An exporter_config with extra
 * resource attributes and a service name may come along.
 *
 * Input: byte 0 = number of spans (1..16) and resources (0..3); then per
 * span a header of fixed fields and a list of attributes, each string a run
 * up to the next 0xff byte (so a string holds any other byte but NUL,
 * which C strings cannot carry).
 */
#ifndef WEFT_FUZZ_SPAN_H
#define WEFT_FUZZ_SPAN_H

#include "fuzz.h"
#include "exporter.h"
#include "span.h"

#define FZ_MAX_SPANS	16
#define FZ_MAX_RES	3

static const char *const fz_span_keys[] = {
	"http.request.method", "url.path", "url.query", "url.full",
	"url.scheme", "http.response.status_code", "server.address",
	"server.port", "client.address", "client.port",
	"network.peer.address", "network.peer.port",
	"network.protocol.version", "user_agent.original", "error.type",
	"peer.service", "weft.request.head_truncated",
	"http.request.method_original",
	/* keys the Zipkin mapping writes itself: never twice in its output */
	"error", "otel.status_code", "otel.status_description",
	"otel.scope.name", "otel.scope.version", "otel.library.name",
	"otel.library.version", "w3c.tracestate", "service.name",
};
#define FZ_N_KEYS (sizeof(fz_span_keys) / sizeof(fz_span_keys[0]))

/* A string of the input: the bytes up to 0xff, NULs made 0x01. */
static inline char *fz_str(struct fuzz_in *in)
{
	size_t n;
	const uint8_t *p = fz_until(in, 0xff, &n);
	char *s = fz_strndup(p, n);

	for (size_t i = 0; i < n; i++)
		if (!s[i])
			s[i] = 1;
	return s;
}

struct fz_batch {
	size_t n;
	struct span *spans[FZ_MAX_SPANS];
	struct resource *res[FZ_MAX_RES];
	struct exporter_config cfg;
	bool has_cfg;
};

static inline void fz_batch_make(struct fuzz_in *in, struct fz_batch *b)
{
	uint8_t h = fz_u8(in);
	int n_res = (h >> 4) & 3;

	memset(b, 0, sizeof(*b));
	b->n = (h & 15) + 1;
	for (int r = 0; r < n_res && r < FZ_MAX_RES; r++) {
		int na = fz_u8(in) % 56;	/* past RESOURCE_MAX_ATTRS too */

		b->res[r] = resource_new(1000 + r);
		for (int a = 0; a < na && !fz_empty(in); a++) {
			char *k = fz_str(in);

			if (fz_u8(in) & 1) {
				resource_set_int(b->res[r], k, (int64_t)fz_u64(in));
			} else {
				char *v = fz_str(in);

				resource_set_str(b->res[r], k, v);
				free(v);
			}
			free(k);
		}
	}
	if (fz_u8(in) & 1) {
		int nc = fz_u8(in) % 33;

		b->has_cfg = true;
		for (int i = 0; i < nc; i++) {
			b->cfg.res_keys[i] = fz_str(in);
			b->cfg.res_vals[i] = fz_str(in);
			b->cfg.n_res_attrs++;
		}
		if (fz_u8(in) & 1)
			b->cfg.service_name = fz_str(in);
	}
	for (size_t i = 0; i < b->n; i++) {
		struct span *s = span_new();
		uint8_t f = fz_u8(in);
		size_t got, na;
		const uint8_t *ids = fz_bytes(in, 32, &got);

		memcpy(s->trace_id, ids, got < 16 ? got : 16);
		if (got > 16)
			memcpy(s->span_id, ids + 16, got - 16 < 8 ? got - 16 : 8);
		if (got > 24)
			memcpy(s->parent_span_id, ids + 24, got - 24);
		s->has_parent = f & 1;
		s->sampled = f & 2;
		s->kind = f & 4 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
		s->start_unix_ns = fz_u64(in);
		s->end_unix_ns = f & 8 ? fz_u64(in) : s->start_unix_ns + fz_u32(in);
		if (f & 16) {
			char *n = fz_str(in);

			span_set_name(s, n);
			free(n);
		}
		if (f & 32)
			s->trace_state = fz_str(in);
		if (f & 64) {
			char *m = fz_u8(in) & 1 ? fz_str(in) : NULL;

			span_set_status(s, (enum span_status)(fz_u8(in) % 3), m);
			free(m);
		}
		if (n_res)
			span_set_resource(s, b->res[fz_u8(in) % n_res]);
		na = fz_u8(in) % 32;	/* past SPAN_MAX_ATTRS too */
		for (size_t a = 0; a < na && !fz_empty(in); a++) {
			uint8_t k = fz_u8(in);
			const char *key = fz_span_keys[(k & 0x7f) % FZ_N_KEYS];

			if (span_find_attr(s, key))
				continue;	/* span.h: a key once per span */
			if (k & 0x80) {
				span_add_int(s, key, (int64_t)fz_u64(in));
			} else {
				char *v = fz_str(in);

				span_add_str(s, key, v);
				free(v);
			}
		}
		b->spans[i] = s;
	}
}

static inline void fz_batch_free(struct fz_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		span_free(b->spans[i]);
	for (int r = 0; r < FZ_MAX_RES; r++)
		if (b->res[r])
			resource_unref(b->res[r]);
	for (int i = 0; i < b->cfg.n_res_attrs; i++) {
		free(b->cfg.res_keys[i]);
		free(b->cfg.res_vals[i]);
	}
	free(b->cfg.service_name);
}

#endif /* WEFT_FUZZ_SPAN_H */
