// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OTLP encoding checked by decoding it again with protobuf-c's generated
 * unpack, exporter configuration from the OTEL_* environment, and gzip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "test.h"
#include "exporter.h"
#include "exporter_http.h"
#include "otlp.h"
#include "otlp_collector.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

#define req_unpack \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack
#define req_free \
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked
#define resp_pack \
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack

static const char *env_vars[] = {
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY",
	"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
	"OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		unsetenv(env_vars[i]);
}

static const KeyValue *find_kv(KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i]->key, key) == 0)
			return kv[i];
	return NULL;
}

static bool kv_str(KeyValue **kv, size_t n, const char *key, const char *want)
{
	const KeyValue *p = find_kv(kv, n, key);

	CHECK(p && p->value);
	CHECK_INT(p->value->value_case,
		  OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	CHECK_STR(p->value->string_value, want);
	return true;
}

static bool kv_int(KeyValue **kv, size_t n, const char *key, int64_t want)
{
	const KeyValue *p = find_kv(kv, n, key);

	CHECK(p && p->value);
	CHECK_INT(p->value->value_case,
		  OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
	CHECK_INT(p->value->int_value, want);
	return true;
}

static struct span *make_span(struct resource *r, uint8_t seed, bool parent)
{
	struct span *s = span_new();

	for (int i = 0; i < 16; i++)
		s->trace_id[i] = seed + i;
	for (int i = 0; i < 8; i++)
		s->span_id[i] = seed + 0x40 + i;
	if (parent) {
		s->has_parent = true;
		for (int i = 0; i < 8; i++)
			s->parent_span_id[i] = seed + 0x80 + i;
	}
	s->kind = seed & 1 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
	s->start_unix_ns = 1700000000000000000ULL + seed;
	s->end_unix_ns = s->start_unix_ns + 1234567;
	span_set_name(s, seed & 1 ? "GET" : "POST /orders");
	span_add_str(s, "http.request.method", seed & 1 ? "GET" : "POST");
	span_add_int(s, "http.response.status_code", 200 + seed);
	span_set_resource(s, r);
	return s;
}

static bool check_span(const Span *p, const struct span *s)
{
	CHECK_INT(p->trace_id.len, 16);
	CHECK(memcmp(p->trace_id.data, s->trace_id, 16) == 0);
	CHECK_INT(p->span_id.len, 8);
	CHECK(memcmp(p->span_id.data, s->span_id, 8) == 0);
	if (s->has_parent) {
		CHECK_INT(p->parent_span_id.len, 8);
		CHECK(memcmp(p->parent_span_id.data, s->parent_span_id, 8) == 0);
	} else {
		CHECK_INT(p->parent_span_id.len, 0);
	}
	CHECK_STR(p->name, s->name);
	CHECK_INT(p->kind, s->kind);
	CHECK_INT(p->start_time_unix_nano, s->start_unix_ns);
	CHECK_INT(p->end_time_unix_nano, s->end_unix_ns);
	CHECK_INT(p->flags, s->sampled ? 1 : 0);
	CHECK_STR(p->trace_state, s->trace_state ? s->trace_state : "");
	CHECK_INT(p->n_attributes, s->n_attrs);
	for (int i = 0; i < s->n_attrs; i++) {
		const struct span_attr *a = &s->attrs[i];

		if (a->type == SPAN_ATTR_STR)
			CHECK(kv_str(p->attributes, p->n_attributes, a->key, a->str));
		else
			CHECK(kv_int(p->attributes, p->n_attributes, a->key, a->num));
	}
	if (s->status == SPAN_STATUS_UNSET && !s->status_message) {
		CHECK(p->status == NULL);
	} else {
		CHECK(p->status);
		CHECK_INT(p->status->code, s->status);
		CHECK_STR(p->status->message,
			  s->status_message ? s->status_message : "");
	}
	return true;
}

static bool test_encode_two_resources(void)
{
	struct resource *ra = resource_new(100), *rb = resource_new(200);
	struct span *spans[4];
	struct exporter_config cfg;
	uint8_t *buf;
	size_t len;
	Request *req;
	bool ok = false;

	memset(&cfg, 0, sizeof(cfg));
	resource_set_str(ra, "service.name", "svc-a");
	resource_set_int(ra, "process.pid", 100);
	resource_set_str(rb, "service.name", "svc-b");
	/* Interleaved on purpose: grouping must not depend on adjacency. */
	spans[0] = make_span(ra, 1, false);
	spans[1] = make_span(rb, 2, true);
	spans[2] = make_span(ra, 3, true);
	spans[3] = make_span(rb, 4, false);
	spans[2]->sampled = false;
	spans[1]->trace_state = strdup("vendor=a,other=b");
	span_set_status(spans[2], SPAN_STATUS_ERROR, "boom");
	span_set_status(spans[3], SPAN_STATUS_OK, NULL);
	resource_unref(ra);
	resource_unref(rb);

	CHECK_INT(otlp_encode(spans, 4, &cfg, &buf, &len), 0);
	req = req_unpack(NULL, len, buf);
	free(buf);
	if (!req)
		goto out;
	if (req->n_resource_spans != 2)
		goto out;
	for (size_t r = 0; r < 2; r++) {
		Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[r];
		Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;

		if (!rs->resource || rs->n_scope_spans != 1)
			goto out;
		if (!kv_str(rs->resource->attributes, rs->resource->n_attributes,
			    "service.name", r ? "svc-b" : "svc-a"))
			goto out;
		if (r == 0 && (rs->resource->n_attributes != 2 ||
			       !kv_int(rs->resource->attributes, 2, "process.pid", 100)))
			goto out;
		ss = rs->scope_spans[0];
		if (!ss->scope || strcmp(ss->scope->name, "weft") ||
		    strcmp(ss->scope->version, WEFT_VERSION) || ss->n_spans != 2)
			goto out;
		/* Order within a resource is submission order. */
		if (!check_span(ss->spans[0], spans[r]) ||
		    !check_span(ss->spans[1], spans[r + 2]))
			goto out;
	}
	ok = true;
out:
	req_free(req, NULL);
	for (int i = 0; i < 4; i++)
		span_free(spans[i]);
	return ok;
}

static bool test_encode_config_extras(void)
{
	struct resource *r = resource_new(1);
	struct span *s;
	struct exporter_config cfg;
	uint8_t *buf;
	size_t len;
	Request *req;
	Opentelemetry__Proto__Resource__V1__Resource *res;
	bool ok;

	memset(&cfg, 0, sizeof(cfg));
	resource_set_str(r, "service.name", "exe-name");
	resource_set_str(r, "k8s.pod.name", "pod-1");
	cfg.res_keys[0] = "deployment.environment";
	cfg.res_vals[0] = "prod";
	cfg.res_keys[1] = "k8s.pod.name";
	cfg.res_vals[1] = "override";
	cfg.n_res_attrs = 2;
	cfg.service_name = "from-env";
	s = make_span(r, 7, false);
	resource_unref(r);
	CHECK_INT(otlp_encode(&s, 1, &cfg, &buf, &len), 0);
	span_free(s);
	req = req_unpack(NULL, len, buf);
	free(buf);
	CHECK(req && req->n_resource_spans == 1);
	res = req->resource_spans[0]->resource;
	ok = res->n_attributes == 3 &&
	     kv_str(res->attributes, 3, "service.name", "from-env") &&
	     kv_str(res->attributes, 3, "k8s.pod.name", "override") &&
	     kv_str(res->attributes, 3, "deployment.environment", "prod");
	req_free(req, NULL);
	return ok;
}

static bool test_encode_empty_and_no_resource(void)
{
	struct span *s = make_span(NULL, 9, false);
	uint8_t *buf;
	size_t len;
	Request *req;
	bool ok;

	CHECK_INT(otlp_encode(NULL, 0, NULL, &buf, &len), 0);
	CHECK_INT(len, 0);
	free(buf);
	CHECK_INT(otlp_encode(&s, 1, NULL, &buf, &len), 0);
	span_free(s);
	req = req_unpack(NULL, len, buf);
	free(buf);
	CHECK(req);
	ok = req->n_resource_spans == 1 &&
	     req->resource_spans[0]->resource->n_attributes == 0 &&
	     req->resource_spans[0]->scope_spans[0]->n_spans == 1;
	req_free(req, NULL);
	return ok;
}

static bool test_decode_response(void)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	uint8_t buf[128], junk[] = { 0xff, 0xff, 0xff };
	size_t len;
	int64_t rej;
	char *msg;

	CHECK_INT(otlp_decode_response(buf, 0, &rej, &msg), 0);
	CHECK_INT(rej, 0);
	CHECK(msg == NULL);

	ps.rejected_spans = 3;
	ps.error_message = "too old";
	resp.partial_success = &ps;
	len = resp_pack(&resp, buf);
	CHECK_INT(otlp_decode_response(buf, len, &rej, &msg), 0);
	CHECK_INT(rej, 3);
	CHECK_STR(msg, "too old");
	free(msg);

	CHECK_INT(otlp_decode_response(junk, sizeof(junk), &rej, &msg), -EINVAL);
	return true;
}

static bool test_join_endpoint(void)
{
	static const char *cases[][2] = {
		{ "http://c:4318", "http://c:4318/v1/traces" },
		{ "http://c:4318/", "http://c:4318/v1/traces" },
		{ "http://c:4318///", "http://c:4318/v1/traces" },
		{ "https://c/otlp/", "https://c/otlp/v1/traces" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *u = exporter_join_endpoint(cases[i][0]);
		bool ok = strcmp(u, cases[i][1]) == 0;

		if (!ok)
			fprintf(stderr, "  join(%s) = %s\n", cases[i][0], u);
		free(u);
		CHECK(ok);
	}
	return true;
}

static bool test_env_defaults_and_endpoints(void)
{
	struct exporter_config cfg;

	clear_env();
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK(cfg.endpoint == NULL);
	CHECK(cfg.gzip);
	CHECK_INT(cfg.timeout_ms, 10000);
	CHECK_INT(cfg.batch_size, 512);
	CHECK_INT(cfg.batch_timeout_ms, 1000);
	CHECK_INT(cfg.queue_batches, 64);
	CHECK_INT(cfg.shutdown_ms, 5000);
	exporter_config_free(&cfg);

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_STR(cfg.endpoint, "http://collector:4318/v1/traces");
	exporter_config_free(&cfg);

	/* The signal-specific URL is used exactly as given. */
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:9999/custom", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_STR(cfg.endpoint, "http://other:9999/custom");
	exporter_config_free(&cfg);
	clear_env();
	return true;
}

static bool test_headers(void)
{
	struct exporter_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	CHECK_INT(exporter_parse_headers(&cfg,
		" api-key = secret%20value%2C1 ,, X-Tenant=t1,empty= "), 0);
	CHECK_INT(cfg.n_headers, 3);
	CHECK_STR(cfg.headers[0], "api-key: secret value,1");
	CHECK_STR(cfg.headers[1], "X-Tenant: t1");
	CHECK_STR(cfg.headers[2], "empty: ");
	exporter_config_free(&cfg);

	CHECK_INT(exporter_parse_headers(&cfg, "novalue"), -EINVAL);
	exporter_config_free(&cfg);
	CHECK_INT(exporter_parse_headers(&cfg, "=x"), -EINVAL);
	exporter_config_free(&cfg);
	CHECK_INT(exporter_parse_headers(&cfg, "a=b%0D%0AX-Evil: 1"), -EINVAL);
	exporter_config_free(&cfg);
	CHECK_INT(exporter_parse_headers(&cfg, "bad name=1"), -EINVAL);
	exporter_config_free(&cfg);

	/* Traces-specific headers replace the generic ones. */
	clear_env();
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_INT(cfg.n_headers, 2);
	exporter_config_free(&cfg);
	setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "c=3", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_INT(cfg.n_headers, 1);
	CHECK_STR(cfg.headers[0], "c: 3");
	exporter_config_free(&cfg);
	setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "broken", 1);
	CHECK_INT(exporter_config_init(&cfg), -EINVAL);
	clear_env();
	return true;
}

static bool test_env_compression_timeout_tls(void)
{
	struct exporter_config cfg;

	clear_env();
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK(!cfg.gzip);
	exporter_config_free(&cfg);
	setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK(cfg.gzip);
	exporter_config_free(&cfg);
	setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd", 1);
	CHECK_INT(exporter_config_init(&cfg), -EINVAL);
	clear_env();

	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_INT(cfg.timeout_ms, 2500);
	exporter_config_free(&cfg);
	setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s", 1);
	CHECK_INT(exporter_config_init(&cfg), -EINVAL);
	clear_env();

	setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/cert.pem", 1);
	setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/key.pem", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_STR(cfg.ca_file, "/ca.pem");
	CHECK_STR(cfg.cert_file, "/cert.pem");
	CHECK_STR(cfg.key_file, "/key.pem");
	exporter_config_free(&cfg);
	clear_env();
	return true;
}

static bool test_env_resource(void)
{
	struct exporter_config cfg, copy;

	clear_env();
	setenv("OTEL_RESOURCE_ATTRIBUTES",
	       "deployment.environment=prod, team = a%2Cb,team=c", 1);
	setenv("OTEL_SERVICE_NAME", "checkout", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_INT(cfg.n_res_attrs, 2);
	CHECK_STR(cfg.res_keys[0], "deployment.environment");
	CHECK_STR(cfg.res_vals[0], "prod");
	CHECK_STR(cfg.res_keys[1], "team");
	CHECK_STR(cfg.res_vals[1], "c");
	CHECK_STR(cfg.service_name, "checkout");
	exporter_config_copy(&copy, &cfg);
	exporter_config_free(&cfg);
	CHECK_STR(copy.res_vals[0], "prod");
	CHECK_STR(copy.service_name, "checkout");
	exporter_config_free(&copy);

	/* Malformed: discarded with a message, not fatal (SDK spec). */
	setenv("OTEL_RESOURCE_ATTRIBUTES", "a=1,oops", 1);
	CHECK_INT(exporter_config_init(&cfg), 0);
	CHECK_INT(cfg.n_res_attrs, 0);
	exporter_config_free(&cfg);
	clear_env();
	return true;
}

static bool test_gzip_roundtrip(void)
{
	uint8_t in[20000], out[25000], *gz;
	size_t gz_len;
	z_stream zs;
	int rc;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 % 251) ^ (i % 13 == 0);
	CHECK_INT(gzip_compress(in, sizeof(in), &gz, &gz_len), 0);
	CHECK(gz_len > 18 && gz[0] == 0x1f && gz[1] == 0x8b);

	memset(&zs, 0, sizeof(zs));
	CHECK_INT(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in = gz;
	zs.avail_in = gz_len;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	rc = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	free(gz);
	CHECK_INT(rc, Z_STREAM_END);
	CHECK_INT(zs.total_out, sizeof(in));
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	return true;
}

int main(void)
{
	RUN(test_encode_two_resources);
	RUN(test_encode_config_extras);
	RUN(test_encode_empty_and_no_resource);
	RUN(test_decode_response);
	RUN(test_join_endpoint);
	RUN(test_env_defaults_and_endpoints);
	RUN(test_headers);
	RUN(test_env_compression_timeout_tls);
	RUN(test_env_resource);
	RUN(test_gzip_roundtrip);
	return TEST_SUMMARY();
}
