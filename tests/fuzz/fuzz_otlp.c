// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_otlp: the OTLP encoder (user/otlp.c otlp_encode) over spans made
 * from the input (fuzz_span.h: hostile names, attribute bytes, ids, times,
 * shared resources with arbitrary keys, config extras), and the collector's
 * answer decoder (otlp_decode_response) over the raw input.
 *
 * Invariants beyond "no crash":
 *  - the encoding unpacks with protobuf-c into an ExportTraceServiceRequest;
 *  - one ResourceSpans per distinct resource, in order of first appearance,
 *    each with one ScopeSpans "weft", holding that resource's spans in
 *    input order: every span comes back with the same trace id, span id,
 *    parent (8 bytes when it has one, else none), flags, name, kind,
 *    times, status, trace state, and attributes key for key, value for
 *    value, byte-exact;
 *  - resource attributes: no key twice; service.name is the config's when
 *    it has one; each config extra is there with its value (unless its key
 *    is service.name and the config names the service);
 *  - encoding twice gives the same bytes (no dependence on garbage);
 *  - otlp_decode_response returns 0 or -EINVAL, a rejected count of 0
 *    when it fails, and a message only on success.
 */
#include <errno.h>
#include "fuzz_span.h"
#include "otlp.h"
#include "otlp_collector.pb-c.h"

#define req_unpack \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack
#define req_free \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Req;
typedef Opentelemetry__Proto__Trace__V1__Span PbSpan;
typedef Opentelemetry__Proto__Common__V1__KeyValue PbKv;

#define ANY_STRING OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
#define ANY_INT OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE

static void check_attr(const PbKv *kv, const struct span_attr *a)
{
	FUZZ_ASSERT(kv->key && strcmp(kv->key, a->key) == 0);
	FUZZ_ASSERT(kv->value);
	if (a->type == SPAN_ATTR_INT) {
		FUZZ_ASSERT(kv->value->value_case == ANY_INT);
		FUZZ_ASSERT(kv->value->int_value == a->num);
	} else {
		FUZZ_ASSERT(kv->value->value_case == ANY_STRING);
		FUZZ_ASSERT(strcmp(kv->value->string_value, a->str ? a->str : "") == 0);
	}
}

static void check_span(const PbSpan *p, const struct span *s)
{
	FUZZ_ASSERT(p->trace_id.len == 16 && memcmp(p->trace_id.data, s->trace_id, 16) == 0);
	FUZZ_ASSERT(p->span_id.len == 8 && memcmp(p->span_id.data, s->span_id, 8) == 0);
	if (s->has_parent)
		FUZZ_ASSERT(p->parent_span_id.len == 8 &&
			    memcmp(p->parent_span_id.data, s->parent_span_id, 8) == 0);
	else
		FUZZ_ASSERT(p->parent_span_id.len == 0);
	FUZZ_ASSERT(p->flags == (s->sampled ? 1u : 0u));
	FUZZ_ASSERT(strcmp(p->name, s->name ? s->name : "") == 0);
	FUZZ_ASSERT((int)p->kind == (int)s->kind);
	FUZZ_ASSERT(p->start_time_unix_nano == s->start_unix_ns);
	FUZZ_ASSERT(p->end_time_unix_nano == s->end_unix_ns);
	FUZZ_ASSERT(strcmp(p->trace_state, s->trace_state ? s->trace_state : "") == 0);
	if (s->status == SPAN_STATUS_UNSET && !s->status_message) {
		FUZZ_ASSERT(!p->status || (p->status->code == 0 && !p->status->message[0]));
	} else {
		FUZZ_ASSERT(p->status && (int)p->status->code == (int)s->status);
		FUZZ_ASSERT(strcmp(p->status->message,
				   s->status_message ? s->status_message : "") == 0);
	}
	FUZZ_ASSERT(p->n_attributes == (size_t)s->n_attrs);
	for (int i = 0; i < s->n_attrs; i++)
		check_attr(p->attributes[i], &s->attrs[i]);
}

static const PbKv *res_find(const Opentelemetry__Proto__Resource__V1__Resource *r,
			    const char *key)
{
	for (size_t i = 0; i < r->n_attributes; i++)
		if (strcmp(r->attributes[i]->key, key) == 0)
			return r->attributes[i];
	return NULL;
}

static void check_request(const Req *req, const struct fz_batch *b)
{
	const struct resource *order[FZ_MAX_SPANS];
	size_t n_groups = 0, seen = 0;
	const struct exporter_config *cfg = b->has_cfg ? &b->cfg : NULL;

	for (size_t i = 0; i < b->n; i++) {
		size_t g;

		for (g = 0; g < n_groups && order[g] != b->spans[i]->res; g++)
			;
		if (g == n_groups)
			order[n_groups++] = b->spans[i]->res;
	}
	FUZZ_ASSERT(req->n_resource_spans == n_groups);
	for (size_t g = 0; g < n_groups; g++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[g];
		const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;
		size_t k = 0;

		FUZZ_ASSERT(rs->resource && rs->n_scope_spans == 1);
		ss = rs->scope_spans[0];
		FUZZ_ASSERT(ss->scope && strcmp(ss->scope->name, OTLP_SCOPE_NAME) == 0);
		for (size_t i = 0; i < rs->resource->n_attributes; i++)
			for (size_t j = i + 1; j < rs->resource->n_attributes; j++)
				FUZZ_ASSERT(strcmp(rs->resource->attributes[i]->key,
						   rs->resource->attributes[j]->key) != 0);
		if (cfg && cfg->service_name) {
			const PbKv *kv = res_find(rs->resource, "service.name");

			FUZZ_ASSERT(kv && kv->value->value_case == ANY_STRING &&
				    strcmp(kv->value->string_value, cfg->service_name) == 0);
		}
		for (int i = 0; cfg && i < cfg->n_res_attrs; i++) {
			const PbKv *kv = res_find(rs->resource, cfg->res_keys[i]);
			bool later = cfg->service_name &&
				     strcmp(cfg->res_keys[i], "service.name") == 0;

			/* a later extra of the same key wins */
			for (int j = i + 1; j < cfg->n_res_attrs; j++)
				later |= strcmp(cfg->res_keys[i], cfg->res_keys[j]) == 0;
			FUZZ_ASSERT(kv);
			if (!later)
				FUZZ_ASSERT(kv->value->value_case == ANY_STRING &&
					    strcmp(kv->value->string_value,
						   cfg->res_vals[i]) == 0);
		}
		for (size_t i = 0; i < b->n; i++) {
			if (b->spans[i]->res != order[g])
				continue;
			FUZZ_ASSERT(k < ss->n_spans);
			check_span(ss->spans[k++], b->spans[i]);
		}
		FUZZ_ASSERT(k == ss->n_spans);
		seen += k;
	}
	FUZZ_ASSERT(seen == b->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fz_batch b;
	uint8_t *out = NULL, *out2 = NULL, *raw;
	size_t len = 0, len2 = 0;
	int64_t rejected = -1;
	char *msg = (char *)1;
	int rc;
	Req *req;

	/* The collector's answer: any bytes. */
	raw = fz_memdup(data, size);
	rc = otlp_decode_response(raw, size, &rejected, &msg);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
	if (rc)
		FUZZ_ASSERT(rejected == 0 && msg == NULL);
	free(msg);
	free(raw);

	fz_batch_make(&in, &b);
	FUZZ_ASSERT(otlp_encode(b.spans, b.n, b.has_cfg ? &b.cfg : NULL, &out, &len) == 0);
	FUZZ_ASSERT(otlp_encode(b.spans, b.n, b.has_cfg ? &b.cfg : NULL, &out2, &len2) == 0);
	FUZZ_ASSERT(len == len2 && memcmp(out, out2, len) == 0);
	req = req_unpack(NULL, len, out);
	FUZZ_ASSERT(req);
	check_request(req, &b);
	req_free(req, NULL);
	free(out);
	free(out2);
	fz_batch_free(&b);
	return 0;
}
