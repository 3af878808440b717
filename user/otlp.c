// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Spans -> ExportTraceServiceRequest. The protobuf-c messages only point at
 * the spans' own strings and ids (nothing is copied), so the spans must
 * outlive the pack call; all the scaffolding is freed before returning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "otlp.h"
#include "otlp_collector.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	Request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse
	Response;

/* protobuf-c's generated names spell out the whole package. */
#define request_size \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size
#define request_pack \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack
#define response_unpack \
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack
#define response_free \
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked
#define STATUS_CODE Opentelemetry__Proto__Trace__V1__Status__StatusCode
#define ANY_STRING OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
#define ANY_INT OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE

/* The process's own attributes, the config's extras, and service.name. */
#define RES_ATTRS_MAX (RESOURCE_MAX_ATTRS + 32 + 1)

/* Everything one span needs on the wire, allocated in one piece. */
struct span_pb {
	Span sp;
	Status st;
	KeyValue kv[SPAN_MAX_ATTRS];
	AnyValue av[SPAN_MAX_ATTRS];
	KeyValue *kvp[SPAN_MAX_ATTRS];
};

/* One ResourceSpans: the resource, its single scope and its spans. */
struct res_pb {
	const struct resource *key;
	ResourceSpans rs;
	Resource res;
	ScopeSpans ss;
	ScopeSpans *ssp;
	Scope scope;
	KeyValue kv[RES_ATTRS_MAX];
	AnyValue av[RES_ATTRS_MAX];
	KeyValue *kvp[RES_ATTRS_MAX];
	Span **spans;
};

static void set_kv(KeyValue *kv, AnyValue *av, const char *key,
		   const struct span_attr *a, const char *str)
{
	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(av);
	kv->key = (char *)key;
	kv->value = av;
	if (a && a->type == SPAN_ATTR_INT) {
		av->value_case = ANY_INT;
		av->int_value = a->num;
	} else {
		av->value_case = ANY_STRING;
		av->string_value = (char *)(a ? (a->str ? a->str : "") : str);
	}
}

/* Adds or replaces key; later sources win (see fill_resource). */
static void res_put(struct res_pb *r, const char *key,
		    const struct span_attr *a, const char *str)
{
	size_t i;

	for (i = 0; i < r->res.n_attributes; i++)
		if (strcmp(r->kv[i].key, key) == 0)
			break;
	if (i == RES_ATTRS_MAX)
		return;
	set_kv(&r->kv[i], &r->av[i], key, a, str);
	r->kvp[i] = &r->kv[i];
	if (i == r->res.n_attributes)
		r->res.n_attributes++;
}

/*
 * Precedence, lowest first: what weft found out about the process, then
 * OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME — the operator's explicit
 * settings beat detection, as in the SDKs.
 */
static void fill_resource(struct res_pb *r, const struct resource *res,
			  const struct exporter_config *cfg)
{
	opentelemetry__proto__trace__v1__resource_spans__init(&r->rs);
	opentelemetry__proto__resource__v1__resource__init(&r->res);
	opentelemetry__proto__trace__v1__scope_spans__init(&r->ss);
	opentelemetry__proto__common__v1__instrumentation_scope__init(&r->scope);
	r->key = res;
	r->res.attributes = r->kvp;
	for (int i = 0; res && i < res->n_attrs; i++)
		res_put(r, res->attrs[i].key, &res->attrs[i], NULL);
	for (int i = 0; cfg && i < cfg->n_res_attrs; i++)
		res_put(r, cfg->res_keys[i], NULL, cfg->res_vals[i]);
	if (cfg && cfg->service_name)
		res_put(r, "service.name", NULL, cfg->service_name);

	r->scope.name = (char *)OTLP_SCOPE_NAME;
	r->scope.version = (char *)WEFT_VERSION;
	r->ss.scope = &r->scope;
	r->ssp = &r->ss;
	r->rs.resource = &r->res;
	r->rs.n_scope_spans = 1;
	r->rs.scope_spans = &r->ssp;
}

static void fill_span(struct span_pb *p, const struct span *s)
{
	Span *sp = &p->sp;

	opentelemetry__proto__trace__v1__span__init(sp);
	sp->trace_id.data = (uint8_t *)s->trace_id;
	sp->trace_id.len = sizeof(s->trace_id);
	sp->span_id.data = (uint8_t *)s->span_id;
	sp->span_id.len = sizeof(s->span_id);
	if (s->has_parent) {
		sp->parent_span_id.data = (uint8_t *)s->parent_span_id;
		sp->parent_span_id.len = sizeof(s->parent_span_id);
	}
	if (s->trace_state)
		sp->trace_state = s->trace_state;
	/* Low byte = W3C trace-flags; only "sampled" is known here. */
	sp->flags = s->sampled ? 1 : 0;
	sp->name = s->name ? s->name : (char *)"";
	/* enum span_kind already carries OTLP's numbers. */
	sp->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
	sp->start_time_unix_nano = s->start_unix_ns;
	sp->end_time_unix_nano = s->end_unix_ns;

	for (int i = 0; i < s->n_attrs; i++) {
		set_kv(&p->kv[i], &p->av[i], s->attrs[i].key, &s->attrs[i], NULL);
		p->kvp[i] = &p->kv[i];
	}
	sp->n_attributes = s->n_attrs;
	sp->attributes = p->kvp;

	if (s->status != SPAN_STATUS_UNSET || s->status_message) {
		opentelemetry__proto__trace__v1__status__init(&p->st);
		p->st.code = (STATUS_CODE)s->status;
		if (s->status_message)
			p->st.message = s->status_message;
		sp->status = &p->st;
	}
}

int otlp_encode(struct span *const *spans, size_t n,
		const struct exporter_config *cfg, uint8_t **out,
		size_t *out_len)
{
	Request req =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	struct span_pb *sp = NULL;
	struct res_pb **rp = NULL;	/* one each, ~6 KiB: only as many as needed */
	ResourceSpans **rsp = NULL;
	Span **span_ptrs = NULL;
	size_t *group = NULL, n_res = 0, size;
	int err = -ENOMEM;

	*out = NULL;
	*out_len = 0;
	/* calloc(0) may return NULL; one spare element keeps n == 0 simple. */
	sp = calloc(n + 1, sizeof(*sp));
	rp = calloc(n + 1, sizeof(*rp));
	rsp = calloc(n + 1, sizeof(*rsp));
	span_ptrs = calloc(n + 1, sizeof(*span_ptrs));
	group = calloc(n + 1, sizeof(*group));
	if (!sp || !rp || !rsp || !span_ptrs || !group)
		goto cleanup;

	/* Group by resource pointer; a handful of processes per batch, so a
	 * linear search beats a hash table here. */
	for (size_t i = 0; i < n; i++) {
		size_t g;

		for (g = 0; g < n_res; g++)
			if (rp[g]->key == spans[i]->res)
				break;
		if (g == n_res) {
			rp[g] = calloc(1, sizeof(*rp[g]));
			if (!rp[g])
				goto cleanup;
			fill_resource(rp[g], spans[i]->res, cfg);
			rsp[g] = &rp[g]->rs;
			n_res++;
		}
		group[i] = g;
		rp[g]->ss.n_spans++;
	}
	/* Carve span_ptrs into one contiguous run per group, in span order. */
	for (size_t g = 0, off = 0; g < n_res; g++) {
		rp[g]->ss.spans = span_ptrs + off;
		off += rp[g]->ss.n_spans;
		rp[g]->ss.n_spans = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct res_pb *r = rp[group[i]];

		fill_span(&sp[i], spans[i]);
		r->ss.spans[r->ss.n_spans++] = &sp[i].sp;
	}
	req.n_resource_spans = n_res;
	req.resource_spans = rsp;

	size = request_size(&req);
	*out = malloc(size + 1);
	if (!*out)
		goto cleanup;
	*out_len = request_pack(&req, *out);
	err = 0;
cleanup:
	free(group);
	free(span_ptrs);
	free(rsp);
	for (size_t g = 0; rp && g < n_res; g++)
		free(rp[g]);
	free(rp);
	free(sp);
	return err;
}

int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected,
			 char **message)
{
	Response *resp;

	*rejected = 0;
	*message = NULL;
	if (len == 0)
		return 0;
	resp = response_unpack(NULL, len, buf);
	if (!resp)
		return -EINVAL;
	if (resp->partial_success) {
		const char *m = resp->partial_success->error_message;

		*rejected = resp->partial_success->rejected_spans;
		if (m && *m)
			*message = strdup(m);
	}
	response_free(resp, NULL);
	return 0;
}
