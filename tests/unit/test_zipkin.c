// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Zipkin v2 JSON: exact output for known spans (ids, kinds, times,
 * endpoints, tags, status), JSON escaping and UTF-8 repair of hostile
 * bytes (checked against json-c's strict, UTF-8 validating parser too),
 * the choice of exporter from flags and OTEL_* variables, and the cost of
 * encoding per span, next to OTLP's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "test.h"
#include "cli.h"
#include "exporter.h"
#include "exporter_http.h"
#include "util.h"
#include "otlp.h"
#include "zipkin.h"

#define V WEFT_VERSION
#define SCOPE_TAGS ",\"otel.scope.name\":\"weft\",\"otel.scope.version\":\"" V \
	"\",\"otel.library.name\":\"weft\",\"otel.library.version\":\"" V "\""

static void hex_id(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = v;
	}
}

static struct resource *shop_resource(void)
{
	struct resource *r = resource_new(4242);

	resource_set_str(r, "service.name", "shop");
	resource_set_int(r, "process.pid", 4242);
	resource_set_str(r, "host.name", "node-1");
	resource_set_str(r, "k8s.pod.name", "shop-1");
	return r;
}

/* A server span as spanbuild.c makes one for curl -> 127.0.0.1:8080. */
static struct span *server_span(struct resource *r)
{
	struct span *s = span_new();

	hex_id("5af7183fb1d4cf5f5af7183fb1d4cf5f", s->trace_id, 16);
	hex_id("6bd71dc6a8b1f36b", s->span_id, 8);
	hex_id("00f067aa0ba902b7", s->parent_span_id, 8);
	s->has_parent = true;
	s->sampled = true;
	s->kind = SPAN_KIND_SERVER;
	s->start_unix_ns = 1700000000123456789ULL;
	s->end_unix_ns = s->start_unix_ns + 2500999;
	span_set_name(s, "GET");
	span_add_str(s, "http.request.method", "GET");
	span_add_str(s, "url.path", "/hello");
	span_add_str(s, "url.scheme", "http");
	span_add_int(s, "http.response.status_code", 200);
	span_add_str(s, "network.peer.address", "127.0.0.1");
	span_add_int(s, "network.peer.port", 51234);
	span_add_str(s, "server.address", "127.0.0.1");
	span_add_int(s, "server.port", 8080);
	span_add_str(s, "client.address", "127.0.0.1");
	span_add_int(s, "client.port", 51234);
	span_set_resource(s, r);
	return s;
}

static const char server_json[] =
	"{\"traceId\":\"5af7183fb1d4cf5f5af7183fb1d4cf5f\",\"id\":\"6bd71dc6a8b1f36b\","
	"\"parentId\":\"00f067aa0ba902b7\",\"name\":\"GET\",\"kind\":\"SERVER\","
	"\"timestamp\":1700000000123456,\"duration\":2500,"
	"\"localEndpoint\":{\"serviceName\":\"shop\",\"ipv4\":\"127.0.0.1\",\"port\":8080},"
	"\"remoteEndpoint\":{\"ipv4\":\"127.0.0.1\",\"port\":51234},"
	"\"tags\":{\"http.request.method\":\"GET\",\"url.path\":\"/hello\","
	"\"url.scheme\":\"http\",\"http.response.status_code\":\"200\","
	"\"network.peer.address\":\"127.0.0.1\",\"network.peer.port\":\"51234\","
	"\"server.address\":\"127.0.0.1\",\"server.port\":\"8080\","
	"\"client.address\":\"127.0.0.1\",\"client.port\":\"51234\","
	"\"process.pid\":\"4242\",\"host.name\":\"node-1\",\"k8s.pod.name\":\"shop-1\""
	SCOPE_TAGS "}}";

/* A client span to a named host over IPv6 that got a 503: no parent, a
 * trace id whose high half is zero, zero duration, a tracestate. */
static struct span *client_span(struct resource *r)
{
	struct span *s = span_new();

	hex_id("00000000000000002f3bd5a4c8e1f0a9", s->trace_id, 16);
	hex_id("7e3a93e1b2c4d5f6", s->span_id, 8);
	s->sampled = true;
	s->kind = SPAN_KIND_CLIENT;
	s->start_unix_ns = 1700000000000000000ULL;
	s->end_unix_ns = s->start_unix_ns;
	span_set_name(s, "POST");
	span_add_str(s, "http.request.method", "POST");
	span_add_str(s, "url.full", "http://svc-b:9000/api");
	span_add_str(s, "server.address", "svc-b");
	span_add_int(s, "server.port", 9000);
	span_add_str(s, "network.peer.address", "::1");
	span_add_int(s, "network.peer.port", 9000);
	span_add_int(s, "http.response.status_code", 503);
	span_add_str(s, "error.type", "503");
	span_set_status(s, SPAN_STATUS_ERROR, "HTTP 503 \"busy\"");
	s->trace_state = strdup("vendor=a,other=b");
	span_set_resource(s, r);
	return s;
}

static const char client_json[] =
	"{\"traceId\":\"00000000000000002f3bd5a4c8e1f0a9\",\"id\":\"7e3a93e1b2c4d5f6\","
	"\"name\":\"POST\",\"kind\":\"CLIENT\",\"timestamp\":1700000000000000,\"duration\":1,"
	"\"localEndpoint\":{\"serviceName\":\"cart\"},"
	"\"remoteEndpoint\":{\"serviceName\":\"svc-b\",\"ipv6\":\"::1\",\"port\":9000},"
	"\"tags\":{\"http.request.method\":\"POST\",\"url.full\":\"http://svc-b:9000/api\","
	"\"server.address\":\"svc-b\",\"server.port\":\"9000\","
	"\"network.peer.address\":\"::1\",\"network.peer.port\":\"9000\","
	"\"http.response.status_code\":\"503\",\"error.type\":\"503\"" SCOPE_TAGS
	",\"w3c.tracestate\":\"vendor=a,other=b\",\"otel.status_code\":\"ERROR\","
	"\"error\":\"HTTP 503 \\\"busy\\\"\","
	"\"otel.status_description\":\"HTTP 503 \\\"busy\\\"\"}}";

/* zipkin_encode of the spans as a NUL-terminated string (freed by the
 * caller), or NULL. */
static char *encode(struct span **spans, size_t n, const struct exporter_config *cfg)
{
	uint8_t *out;
	size_t len;
	char *s;

	if (zipkin_encode(spans, n, cfg, &out, &len))
		return NULL;
	s = malloc(len + 1);
	memcpy(s, out, len);
	s[len] = '\0';
	free(out);
	return s;
}

/* Parsed by json-c as strict JSON with UTF-8 validation, or NULL. */
static struct json_object *parse_strict(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static void free_spans(struct span **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		span_free(s[i]);
}

static bool test_server_span_exact(void)
{
	struct resource *r = shop_resource();
	struct span *s = server_span(r);
	char *got = encode(&s, 1, NULL);
	char want[sizeof(server_json) + 2];
	bool ok;

	snprintf(want, sizeof(want), "[%s]", server_json);
	ok = got && strcmp(got, want) == 0;
	if (!ok)
		fprintf(stderr, "  got  %s\n  want %s\n", got, want);
	free(got);
	span_free(s);
	resource_unref(r);
	return ok;
}

static bool test_batch_two_resources(void)
{
	struct resource *shop = shop_resource(), *cart = resource_new(7);
	struct span *s[3];
	char want[3 * sizeof(server_json) + sizeof(client_json)];
	char *got;
	bool ok;

	resource_set_str(cart, "service.name", "cart");
	s[0] = server_span(shop);
	s[1] = client_span(cart);
	s[2] = server_span(shop);
	got = encode(s, 3, NULL);
	snprintf(want, sizeof(want), "[%s,%s,%s]", server_json, client_json, server_json);
	ok = got && strcmp(got, want) == 0;
	if (!ok)
		fprintf(stderr, "  got  %s\n  want %s\n", got, want);
	if (ok) {
		struct json_object *o = parse_strict(got);

		ok = o && json_object_array_length(o) == 3;
		json_object_put(o);
	}
	free(got);
	free_spans(s, 3);
	resource_unref(shop);
	resource_unref(cart);
	return ok;
}

static bool test_empty_batch(void)
{
	char *got = encode(NULL, 0, NULL);

	CHECK_STR(got, "[]");
	free(got);
	return true;
}

/* The value of key in the first span's object (a string), or NULL. */
static const char *field(struct json_object *arr, const char *obj, const char *key)
{
	struct json_object *sp = json_object_array_get_idx(arr, 0), *o = sp, *v;

	if (obj && !json_object_object_get_ex(sp, obj, &o))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static bool has_field(struct json_object *arr, const char *obj, const char *key)
{
	return field(arr, obj, key) != NULL;
}

static bool test_times(void)
{
	static const struct {
		uint64_t start, end;
		const char *ts, *dur;
	} cases[] = {
		{ 1700000000123456789ULL, 1700000000123457788ULL, "1700000000123456", "1" },
		{ 1700000000000000999ULL, 1700000000000002000ULL, "1700000000000000", "1" },
		{ 1700000000000000000ULL, 1700000000000001999ULL, "1700000000000000", "1" },
		{ 1700000000000000000ULL, 1700000000000002000ULL, "1700000000000000", "2" },
		{ 1700000000000000000ULL, 1700000005000000000ULL, "1700000000000000", "5000000" },
		{ 1700000000000000000ULL, 1699999999999999000ULL, "1700000000000000", "1" },
	};
	struct resource *r = shop_resource();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct span *s = server_span(r);
		struct json_object *o;
		char *got;

		s->start_unix_ns = cases[i].start;
		s->end_unix_ns = cases[i].end;
		got = encode(&s, 1, NULL);
		o = got ? parse_strict(got) : NULL;
		CHECK(o);
		CHECK_STR(field(o, NULL, "timestamp"), cases[i].ts);
		CHECK_STR(field(o, NULL, "duration"), cases[i].dur);
		json_object_put(o);
		free(got);
		span_free(s);
	}
	resource_unref(r);
	return true;
}

static bool test_ids(void)
{
	struct resource *r = shop_resource();
	struct span *s = server_span(r);
	struct json_object *o;
	char *got;

	/* a 64-bit trace id goes out as 32 digits, a zero parent not at all */
	memset(s->trace_id, 0, 8);
	memset(s->parent_span_id, 0, 8);
	got = encode(&s, 1, NULL);
	o = parse_strict(got);
	CHECK(o);
	CHECK_STR(field(o, NULL, "traceId"), "00000000000000005af7183fb1d4cf5f");
	CHECK_STR(field(o, NULL, "id"), "6bd71dc6a8b1f36b");
	CHECK(!has_field(o, NULL, "parentId"));
	json_object_put(o);
	free(got);
	s->has_parent = false;
	hex_id("ffffffffffffffff", s->parent_span_id, 8);
	got = encode(&s, 1, NULL);
	CHECK(got && !strstr(got, "parentId"));
	free(got);
	span_free(s);
	resource_unref(r);
	return true;
}

static bool test_kinds_and_endpoints(void)
{
	struct resource *r = shop_resource();
	struct span *s = server_span(r);
	struct json_object *o;
	char *got;

	/* a server span named by its Host header: no local address, the port */
	s->attrs[6].str = "shop.example";	/* server.address, in the arena */
	s->attrs[4].str = "::ffff:10.1.2.3";	/* network.peer.address */
	got = encode(&s, 1, NULL);
	o = parse_strict(got);
	CHECK(o);
	CHECK_STR(field(o, NULL, "kind"), "SERVER");
	CHECK(!has_field(o, "localEndpoint", "ipv4"));
	CHECK(!has_field(o, "localEndpoint", "ipv6"));
	CHECK_STR(field(o, "localEndpoint", "port"), "8080");
	CHECK_STR(field(o, "remoteEndpoint", "ipv4"), "10.1.2.3");
	CHECK(!has_field(o, "remoteEndpoint", "serviceName"));
	json_object_put(o);
	free(got);

	/* a client span: the remote's name from server.address, and
	 * peer.service first when there is one; a peer that is no address
	 * literal and a port out of range leave the endpoint out */
	s->kind = SPAN_KIND_CLIENT;
	s->attrs[5].num = 0;			/* network.peer.port */
	s->attrs[4].str = "not-an-ip";
	got = encode(&s, 1, NULL);
	o = parse_strict(got);
	CHECK(o);
	CHECK_STR(field(o, NULL, "kind"), "CLIENT");
	CHECK_STR(field(o, "localEndpoint", "serviceName"), "shop");
	CHECK(!has_field(o, "localEndpoint", "port"));
	CHECK_STR(field(o, "remoteEndpoint", "serviceName"), "shop.example");
	CHECK(!has_field(o, "remoteEndpoint", "ipv4"));
	CHECK(!has_field(o, "remoteEndpoint", "port"));
	json_object_put(o);
	free(got);
	span_add_str(s, "peer.service", "inventory");
	got = encode(&s, 1, NULL);
	o = parse_strict(got);
	CHECK(o);
	CHECK_STR(field(o, "remoteEndpoint", "serviceName"), "inventory");
	json_object_put(o);
	free(got);

	/* no name, no address, no port: no remoteEndpoint at all */
	s->attrs[6].str = "";
	s->n_attrs--;				/* peer.service */
	got = encode(&s, 1, NULL);
	CHECK(got && !strstr(got, "remoteEndpoint"));
	o = parse_strict(got);
	CHECK(o);
	json_object_put(o);
	free(got);
	span_free(s);
	resource_unref(r);
	return true;
}

static bool test_status(void)
{
	struct resource *r = shop_resource();
	struct span *s = server_span(r);
	char *got;

	/* 5xx: error with no message gives an empty error tag */
	span_set_status(s, SPAN_STATUS_ERROR, NULL);
	got = encode(&s, 1, NULL);
	CHECK(got && strstr(got, SCOPE_TAGS ",\"otel.status_code\":\"ERROR\",\"error\":\"\"}}]"));
	CHECK(!strstr(got, "otel.status_description"));
	free(got);
	span_set_status(s, SPAN_STATUS_ERROR, "connection reset");
	got = encode(&s, 1, NULL);
	CHECK(got && strstr(got, SCOPE_TAGS ",\"otel.status_code\":\"ERROR\","
			    "\"error\":\"connection reset\","
			    "\"otel.status_description\":\"connection reset\"}}]"));
	free(got);
	span_set_status(s, SPAN_STATUS_OK, NULL);
	got = encode(&s, 1, NULL);
	CHECK(got && strstr(got, SCOPE_TAGS ",\"otel.status_code\":\"OK\"}}]"));
	CHECK(!strstr(got, "\"error\""));
	free(got);
	span_set_status(s, SPAN_STATUS_UNSET, NULL);
	got = encode(&s, 1, NULL);
	CHECK(got && strstr(got, SCOPE_TAGS "}}]"));
	CHECK(!strstr(got, "otel.status_code") && !strstr(got, "\"error\""));
	free(got);
	span_free(s);
	resource_unref(r);
	return true;
}

/* The config's resource attributes and service name win over the
 * process's; a span attribute wins over a resource attribute of the same
 * key; the mapping's own keys are never taken from attributes. */
static bool test_resource_merge_and_collisions(void)
{
	struct exporter_config cfg = { 0 };
	struct resource *r = shop_resource();
	struct span *s = server_span(r);
	struct json_object *o, *tags;
	char *got;
	int count = 0;

	resource_set_str(r, "url.path", "/from-resource");
	resource_set_str(r, "error", "false");
	resource_set_str(r, "service.namespace", "shops");
	CHECK(exporter_parse_resource_attrs(&cfg, "deployment.environment=prod,host.name=override,"
					    "otel.scope.name=evil") == 0);
	cfg.service_name = strdup("svc-override");
	span_add_str(s, "otel.status_code", "OK");	/* the mapping's key */
	got = encode(&s, 1, &cfg);
	o = parse_strict(got);
	CHECK(o);
	CHECK_STR(field(o, "localEndpoint", "serviceName"), "svc-override");
	CHECK(json_object_object_get_ex(json_object_array_get_idx(o, 0), "tags", &tags));
	CHECK_STR(field(o, "tags", "url.path"), "/hello");
	CHECK_STR(field(o, "tags", "host.name"), "override");
	CHECK_STR(field(o, "tags", "deployment.environment"), "prod");
	CHECK_STR(field(o, "tags", "service.namespace"), "shops");
	CHECK_STR(field(o, "tags", "otel.scope.name"), "weft");
	CHECK(!has_field(o, "tags", "error"));
	CHECK(!has_field(o, "tags", "otel.status_code"));
	CHECK(!has_field(o, "tags", "service.name"));
	/* every key once: json-c keeps the last of duplicates, so count them
	 * in the text */
	for (const char *p = got; (p = strstr(p, "\"url.path\":")); p++)
		count++;
	CHECK_INT(count, 1);
	count = 0;
	for (const char *p = got; (p = strstr(p, "\"otel.scope.name\":")); p++)
		count++;
	CHECK_INT(count, 1);
	json_object_object_foreach(tags, k, val) {
		(void)k;
		CHECK(json_object_is_type(val, json_type_string));
	}
	json_object_put(o);
	free(got);
	span_free(s);
	resource_unref(r);
	exporter_config_free(&cfg);
	return true;
}

static bool quote_is(const char *in, const char *want)
{
	char *got = zipkin_json_quote(in);
	bool ok = got && strcmp(got, want) == 0;

	if (!ok) {
		fprintf(stderr, "  quote(");
		for (const unsigned char *p = (const unsigned char *)in; *p; p++)
			fprintf(stderr, *p >= 32 && *p < 127 ? "%c" : "\\x%02x", *p);
		fprintf(stderr, ") = %s, want %s\n", got, want);
	}
	free(got);
	return ok;
}

#define R "\xef\xbf\xbd"	/* U+FFFD */

static bool test_escaping(void)
{
	CHECK(quote_is("", "\"\""));
	CHECK(quote_is("plain /path?q=1", "\"plain /path?q=1\""));
	CHECK(quote_is("a\"b\\c", "\"a\\\"b\\\\c\""));
	CHECK(quote_is("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""));
	CHECK(quote_is("\x01\x1f x\x7f", "\"\\u0001\\u001f x\x7f\""));
	/* well-formed UTF-8 of every length goes through as is */
	CHECK(quote_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
		       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\""));
	/* each maximal ill-formed subpart becomes one U+FFFD */
	CHECK(quote_is("\x80", "\"" R "\""));			/* lone continuation */
	CHECK(quote_is("\xc0\xaf", "\"" R R "\""));		/* overlong '/' */
	CHECK(quote_is("\xc1\xbf", "\"" R R "\""));
	CHECK(quote_is("\xe0\x80\xaf", "\"" R R R "\""));	/* overlong, 3 bytes */
	CHECK(quote_is("\xed\xa0\x80", "\"" R R R "\""));	/* a surrogate */
	CHECK(quote_is("\xf0\x80\x80\xaf", "\"" R R R R "\""));
	CHECK(quote_is("\xf4\x90\x80\x80", "\"" R R R R "\""));	/* past U+10FFFF */
	CHECK(quote_is("\xf5\xfe\xff", "\"" R R R "\""));
	CHECK(quote_is("\xf0\x9f\x98" "A", "\"" R "A\""));	/* cut short */
	CHECK(quote_is("x\xe2\x82", "\"x" R "\""));		/* cut by the end */
	CHECK(quote_is("\xe2\x82\"", "\"" R "\\\"\""));		/* ... by a quote */
	CHECK(quote_is("\xc3\n", "\"" R "\\n\""));
	CHECK(quote_is("\xc3\xa9\xa9", "\"\xc3\xa9" R "\""));
	return true;
}

/* Every byte value in attribute values, names, keys and the service name:
 * json-c's strict, validating parser takes the whole array, and the
 * well-formed parts come back unchanged. */
static bool test_hostile_values_parse(void)
{
	struct exporter_config cfg = { 0 };
	struct resource *r = resource_new(1);
	struct span *s = server_span(r);
	char all[256], *got;
	struct json_object *o;

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	resource_set_str(r, "service.name", "svc\"\n\xff");
	resource_set_str(r, "weird\"key\\\x01\xc3", all);
	span_set_name(s, all);
	span_add_str(s, "user_agent.original", all);
	span_add_str(s, "url.query", "a=\"1\"&b=\\x\xe2\x28\xa1");
	span_set_status(s, SPAN_STATUS_ERROR, all);
	free(s->trace_state);
	s->trace_state = strdup(all);
	cfg.service_name = NULL;
	got = encode(&s, 1, &cfg);
	CHECK(got);
	o = parse_strict(got);
	CHECK(o);
	CHECK_STR(field(o, "localEndpoint", "serviceName"), "svc\"\n" R);
	CHECK_STR(field(o, "tags", "url.query"), "a=\"1\"&b=\\x" R "(" R);
	CHECK_STR(field(o, "tags", "weird\"key\\\x01" R), field(o, NULL, "name"));
	CHECK_STR(field(o, "tags", "error"), field(o, NULL, "name"));
	CHECK(strncmp(field(o, NULL, "name"), all, 127) == 0);
	CHECK(strlen(field(o, NULL, "name")) == 127 + 128 * 3);
	json_object_put(o);
	free(got);
	span_free(s);
	resource_unref(r);
	return true;
}

/* Found by tests/fuzz/fuzz_zipkin.c: resource keys that are not UTF-8 and
 * differ only in their ill-formed bytes were written alike (each as two
 * U+FFFD), so the tags object had that key twice; the first is kept. */
static bool test_resource_keys_written_alike(void)
{
	struct resource *r = resource_new(1);
	struct span *s = server_span(r);
	struct json_object *o, *tags;
	char *got, *at;
	int seen = 0;

	resource_set_str(r, "k\xf7\xf7", "first");
	resource_set_str(r, "k\xf7\xf3", "second");
	resource_set_str(r, "k\xef\xbf\xbd\xef\xbf\xbd", "third");	/* real U+FFFDs */
	resource_set_str(r, "k\xe2\x82", "fourth");	/* one maximal subpart: one U+FFFD */
	got = encode(&s, 1, NULL);
	CHECK(got);
	for (at = got; (at = strstr(at, "\"k" R R "\":")); at++)
		seen++;
	CHECK_INT(seen, 1);
	o = parse_strict(got);
	CHECK(o);
	CHECK_STR(field(o, "tags", "k" R R), "first");
	CHECK_STR(field(o, "tags", "k" R), "fourth");
	CHECK(json_object_object_get_ex(json_object_array_get_idx(o, 0), "tags", &tags));
	json_object_put(o);
	free(got);
	span_free(s);
	resource_unref(r);
	return true;
}

/* --- exporter choice: flags, then OTEL_* ---------------------------------- */

static const char *env_vars[] = {
	"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
	"OTEL_EXPORTER_ZIPKIN_TIMEOUT", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
	"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
	"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_COMPRESSION",
	"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_SERVICE_NAME",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		unsetenv(env_vars[i]);
}

static struct env cli_env;

/* cli_parse on the words after "weft"; returns its result. */
static int parse(const char *const *words)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"weft";
	while (*words)
		argv[argc++] = (char *)*words++;
	argv[argc] = NULL;
	optind = 0;
	return cli_parse(&cli_env, argc, argv);
}

static bool parsed(const char *const *words, enum exporter_format f,
		   const char *endpoint)
{
	int rc = parse(words);

	CHECK_INT(rc, 0);
	CHECK_STR(exporter_format_name(cli_env.ex.format), exporter_format_name(f));
	if (endpoint)
		CHECK_STR(cli_env.ex.endpoint, endpoint);
	else
		CHECK(cli_env.ex.endpoint == NULL);
	return true;
}

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOARGS ((const char *const[]){ NULL })
#define ZDEF ZIPKIN_DEFAULT_ENDPOINT

static bool test_choice_flags(void)
{
	bool ok = true;

	clear_env();
	ok = ok && parsed(NOARGS, EXPORTER_NONE, NULL);
	cli_free(&cli_env);
	ok = ok && parsed(W("--exporter", "zipkin"), EXPORTER_ZIPKIN, ZDEF);
	cli_free(&cli_env);
	ok = ok && parsed(W("--exporter=ZIPKIN"), EXPORTER_ZIPKIN, ZDEF);
	cli_free(&cli_env);
	ok = ok && parsed(W("--zipkin-endpoint", "http://z:9411/api/v2/spans"),
			  EXPORTER_ZIPKIN, "http://z:9411/api/v2/spans");
	cli_free(&cli_env);
	ok = ok && parsed(W("--otlp-endpoint", "http://c:4318"), EXPORTER_OTLP,
			  "http://c:4318/v1/traces");
	cli_free(&cli_env);
	/* both endpoints without --exporter: OTLP, and the other one said */
	ok = ok && parsed(W("--zipkin-endpoint", "http://z/s", "--otlp-endpoint", "http://c:4318"),
			  EXPORTER_OTLP, "http://c:4318/v1/traces");
	cli_free(&cli_env);
	ok = ok && parsed(W("--exporter", "zipkin", "--otlp-endpoint", "http://c:4318",
			    "--zipkin-endpoint", "http://z/s"), EXPORTER_ZIPKIN, "http://z/s");
	cli_free(&cli_env);
	ok = ok && parsed(W("--exporter", "otlp"), EXPORTER_OTLP, OTLP_DEFAULT_ENDPOINT);
	cli_free(&cli_env);
	ok = ok && parsed(W("--exporter", "none", "--otlp-endpoint", "http://c:4318"),
			  EXPORTER_NONE, NULL);
	cli_free(&cli_env);
	/* the transport flags apply to Zipkin too */
	ok = ok && parsed(W("--exporter", "zipkin", "--otlp-header", "x-token=abc",
			    "--otlp-compression", "none", "--otlp-timeout", "1234"),
			  EXPORTER_ZIPKIN, ZDEF);
	ok = ok && cli_env.ex.n_headers == 1 && strcmp(cli_env.ex.headers[0], "x-token: abc") == 0 &&
	     !cli_env.ex.gzip && cli_env.ex.timeout_ms == 1234;
	cli_free(&cli_env);
	CHECK(ok);
	CHECK(parse(W("--exporter", "jaeger")) == -1);
	cli_free(&cli_env);
	return true;
}

static bool test_choice_env(void)
{
	bool ok = true;

	clear_env();
	setenv("OTEL_TRACES_EXPORTER", "zipkin", 1);
	ok = ok && parsed(NOARGS, EXPORTER_ZIPKIN, ZDEF);
	CHECK(ok && cli_env.ex.gzip && cli_env.ex.timeout_ms == 10000);
	cli_free(&cli_env);
	/* OTLP's variables are not the Zipkin exporter's: a bearer token for
	 * the collector must not go to another server */
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20secret", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "777", 1);
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none", 1);
	setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/otlp-ca.pem", 1);
	setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "http://zipkin:9411/api/v2/spans", 1);
	setenv("OTEL_EXPORTER_ZIPKIN_TIMEOUT", "2500", 1);
	setenv("OTEL_SERVICE_NAME", "svc", 1);
	ok = ok && parsed(NOARGS, EXPORTER_ZIPKIN, "http://zipkin:9411/api/v2/spans");
	CHECK(ok && cli_env.ex.n_headers == 0 && cli_env.ex.gzip &&
	      cli_env.ex.timeout_ms == 2500 && !cli_env.ex.ca_file);
	CHECK_STR(cli_env.ex.service_name, "svc");
	cli_free(&cli_env);
	/* the flag wins over the variable */
	ok = ok && parsed(W("--otlp-timeout", "99"), EXPORTER_ZIPKIN,
			  "http://zipkin:9411/api/v2/spans");
	CHECK(ok && cli_env.ex.timeout_ms == 99);
	cli_free(&cli_env);
	/* ... and the OTLP exporter reads OTLP's, not Zipkin's */
	ok = ok && parsed(W("--exporter", "otlp"), EXPORTER_OTLP, OTLP_DEFAULT_ENDPOINT);
	CHECK(ok && cli_env.ex.n_headers == 1 && cli_env.ex.timeout_ms == 777 && !cli_env.ex.gzip);
	cli_free(&cli_env);
	setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
	ok = ok && parsed(W("--zipkin-endpoint", "http://z/s"), EXPORTER_ZIPKIN, "http://z/s");
	cli_free(&cli_env);
	clear_env();

	/* lists: the first supported value, the others warned about */
	setenv("OTEL_TRACES_EXPORTER", " console , Zipkin,otlp", 1);
	ok = ok && parsed(NOARGS, EXPORTER_ZIPKIN, ZDEF);
	cli_free(&cli_env);
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", 1);
	ok = ok && parsed(NOARGS, EXPORTER_NONE, NULL);
	cli_free(&cli_env);
	/* nothing supported: as if unset, the endpoint decides */
	setenv("OTEL_TRACES_EXPORTER", "jaeger,console", 1);
	ok = ok && parsed(NOARGS, EXPORTER_OTLP, "http://c:4318/v1/traces");
	cli_free(&cli_env);
	unsetenv("OTEL_TRACES_EXPORTER");
	setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "http://zipkin/api/v2/spans", 1);
	ok = ok && parsed(NOARGS, EXPORTER_OTLP, "http://c:4318/v1/traces");
	cli_free(&cli_env);
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	ok = ok && parsed(NOARGS, EXPORTER_ZIPKIN, "http://zipkin/api/v2/spans");
	cli_free(&cli_env);
	setenv("OTEL_EXPORTER_ZIPKIN_TIMEOUT", "soon", 1);
	CHECK(parse(NOARGS) == -1);
	cli_free(&cli_env);
	clear_env();
	CHECK(ok);
	return true;
}

static bool test_parse_format(void)
{
	enum exporter_format f;

	CHECK(exporter_parse_format("otlp", false, &f) == 0 && f == EXPORTER_OTLP);
	CHECK(exporter_parse_format("None", false, &f) == 0 && f == EXPORTER_NONE);
	CHECK(exporter_parse_format("otlp,zipkin", false, &f) == -EINVAL);
	CHECK(exporter_parse_format("", true, &f) == 0 && f == EXPORTER_UNSET);
	CHECK(exporter_parse_format(",,zipkin,", true, &f) == 0 && f == EXPORTER_ZIPKIN);
	CHECK(exporter_parse_format("logging", true, &f) == 0 && f == EXPORTER_UNSET);
	return true;
}

/* --- cost per span ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Not a pass/fail check (timing on a shared machine): prints ns per span
 * of a 512-span batch of weft's usual spans over 4 processes, for Zipkin
 * and OTLP, before and after gzip, and the body sizes. */
static bool test_cost_per_span(void)
{
	enum { N = 512, ROUNDS = 20 };
	struct resource *res[4];
	struct span *s[N];
	uint64_t best_z = UINT64_MAX, best_o = UINT64_MAX, best_zg = UINT64_MAX,
		 best_og = UINT64_MAX;
	size_t zlen = 0, olen = 0, zglen = 0, oglen = 0;

	for (int i = 0; i < 4; i++) {
		res[i] = shop_resource();
		resource_set_str(res[i], "process.executable.name", "shop");
		resource_set_str(res[i], "process.executable.path", "/usr/local/bin/shop");
		resource_set_str(res[i], "telemetry.sdk.name", "weft");
		resource_set_str(res[i], "telemetry.sdk.language", "ebpf");
		resource_set_str(res[i], "container.id",
				 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
		resource_set_str(res[i], "k8s.namespace.name", "shops");
	}
	for (int i = 0; i < N; i++) {
		s[i] = i % 2 ? client_span(res[i % 4]) : server_span(res[i % 4]);
		span_add_str(s[i], "user_agent.original", "Go-http-client/1.1");
		s[i]->span_id[0] = i;
	}
	for (int r = 0; r < ROUNDS; r++) {
		uint8_t *out, *gz;
		size_t len, gzlen;
		uint64_t t0 = now_ns(), t1, t2;

		CHECK(zipkin_encode(s, N, NULL, &out, &len) == 0);
		t1 = now_ns();
		CHECK(gzip_compress(out, len, &gz, &gzlen) == 0);
		t2 = now_ns();
		if (t1 - t0 < best_z)
			best_z = t1 - t0;
		if (t2 - t0 < best_zg)
			best_zg = t2 - t0;
		zlen = len;
		zglen = gzlen;
		free(out);
		free(gz);
		t0 = now_ns();
		CHECK(otlp_encode(s, N, NULL, &out, &len) == 0);
		t1 = now_ns();
		CHECK(gzip_compress(out, len, &gz, &gzlen) == 0);
		t2 = now_ns();
		if (t1 - t0 < best_o)
			best_o = t1 - t0;
		if (t2 - t0 < best_og)
			best_og = t2 - t0;
		olen = len;
		oglen = gzlen;
		free(out);
		free(gz);
	}
	printf("     zipkin: %llu ns/span encode, %llu with gzip; %zu B/span, %zu gzipped\n"
	       "     otlp:   %llu ns/span encode, %llu with gzip; %zu B/span, %zu gzipped\n",
	       (unsigned long long)best_z / N, (unsigned long long)best_zg / N, zlen / N,
	       zglen / N, (unsigned long long)best_o / N, (unsigned long long)best_og / N,
	       olen / N, oglen / N);
	free_spans(s, N);
	for (int i = 0; i < 4; i++)
		resource_unref(res[i]);
	return true;
}

/* u64_dec writes every timestamp of both JSON outputs and of Zipkin's
 * microseconds: every digit count, both sides of each power of ten. */
static bool test_u64_dec(void)
{
	char tmp[20], want[24];
	uint64_t v = 1;

	for (int k = 0; k < 20; k++, v *= 10) {	/* 10^0 .. 10^19 */
		uint64_t cases[] = { v - 1, v, v + 1, v * 9 / 8, UINT64_MAX, 0, 99, 100, 1764720000123456789ULL };

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char *d = u64_dec(cases[i], tmp);

			snprintf(want, sizeof(want), "%llu", (unsigned long long)cases[i]);
			CHECK(strlen(want) == (size_t)(tmp + sizeof(tmp) - d));
			CHECK(memcmp(d, want, strlen(want)) == 0);
		}
	}
	return true;
}

int main(void)
{
	RUN(test_server_span_exact);
	RUN(test_batch_two_resources);
	RUN(test_empty_batch);
	RUN(test_times);
	RUN(test_ids);
	RUN(test_kinds_and_endpoints);
	RUN(test_status);
	RUN(test_resource_merge_and_collisions);
	RUN(test_escaping);
	RUN(test_hostile_values_parse);
	RUN(test_resource_keys_written_alike);
	RUN(test_parse_format);
	RUN(test_choice_flags);
	RUN(test_choice_env);
	RUN(test_cost_per_span);
	RUN(test_u64_dec);
	return TEST_SUMMARY();
}
