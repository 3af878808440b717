// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for user/telemetry.c: which request heads deliver telemetry. */
#include <stdio.h>
#include "http.h"
#include "telemetry.h"
#include "test.h"

/* The kind of a request head given as its start line and headers. */
static int kind_of(const char *head)
{
	static struct http_msg m;

	if (http_parse_head((const uint8_t *)head, strlen(head), &m) != HTTP_OK)
		return -1;
	return telemetry_classify(&m);
}

static int kind_post(const char *target, const char *ctype)
{
	char head[512];

	if (ctype)
		snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: c\r\n"
			 "Content-Type: %s\r\nContent-Length: 1\r\n\r\n", target, ctype);
	else
		snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: c\r\n"
			 "Content-Length: 1\r\n\r\n", target);
	return kind_of(head);
}

/* Every intake by its exact path, whatever the content type says. */
static bool test_exact_paths(void)
{
	CHECK_INT(kind_post("/v1/traces", "application/x-protobuf"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/v1/traces", "application/json"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/v1/traces", NULL), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/v1/metrics", "application/x-protobuf"), TELEMETRY_OTHER);
	CHECK_INT(kind_post("/v1/logs", "application/x-protobuf"), TELEMETRY_OTHER);
	CHECK_INT(kind_post("/v1development/profiles", NULL), TELEMETRY_OTHER);
	CHECK_INT(kind_post("/api/v2/spans", "application/json"), TELEMETRY_SPANS);
	/* gRPC exports: an HTTP/2 stream's :method and :path */
	CHECK_INT(kind_post("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
			    "application/grpc"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/opentelemetry.proto.collector.logs.v1.LogsService/Export",
			    "application/grpc+proto"), TELEMETRY_OTHER);
	CHECK_INT(kind_post("/jaeger.api_v2.CollectorService/PostSpans",
			    "application/grpc"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/jaeger.api_v2.CollectorService/GetTrace",
			    "application/grpc"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/api/v2/spans", "application/x-protobuf"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/api/v1/spans", "application/x-thrift"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/api/traces", "application/vnd.apache.thrift.binary"),
		  TELEMETRY_SPANS);
	/* a query string, a trailing slash, a proxy's absolute form */
	CHECK_INT(kind_post("/api/traces?format=jaeger.thrift", NULL), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/v1/traces/", NULL), TELEMETRY_SPANS);
	CHECK_INT(kind_post("http://collector:4318/v1/traces", NULL), TELEMETRY_SPANS);
	CHECK_INT(kind_post("https://collector/v1/logs?x", NULL), TELEMETRY_OTHER);
	return true;
}

/* Behind a gateway the intake path has a prefix: then the body must be in
 * one of the intakes' encodings, so a business route ending the same way
 * is still traced. */
static bool test_prefixed_paths(void)
{
	CHECK_INT(kind_post("/otlp/v1/traces", "application/x-protobuf"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/otlp/v1/traces", "Application/X-Protobuf; charset=x"),
		  TELEMETRY_SPANS);
	CHECK_INT(kind_post("/otlp/v1/metrics", "application/json"), TELEMETRY_OTHER);
	CHECK_INT(kind_post("/zipkin/api/v2/spans", "application/json"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/jaeger/api/traces", "application/x-thrift"), TELEMETRY_SPANS);
	CHECK_INT(kind_post("/otlp/v1/traces", NULL), TELEMETRY_NONE);
	CHECK_INT(kind_post("/shop/api/traces", "text/plain"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/shop/api/traces", "application/x-www-form-urlencoded"),
		  TELEMETRY_NONE);
	return true;
}

/* weft's own exports are told apart by their User-Agent (exporter_http.c):
 * never traced, even when telemetry is. */
static bool test_weft_exports(void)
{
	CHECK_INT(kind_of("POST /v1/traces HTTP/1.1\r\nUser-Agent: weft/0.4.0\r\n"
			  "Content-Type: application/x-protobuf\r\n\r\n"), TELEMETRY_WEFT);
	CHECK_INT(kind_of("POST /gw/v1/traces HTTP/1.1\r\nUser-Agent: weft/0.4.0\r\n"
			  "Content-Type: application/x-protobuf\r\n\r\n"), TELEMETRY_WEFT);
	CHECK_INT(kind_of("POST /v1/traces HTTP/1.1\r\nUser-Agent: OTel-OTLP-Exporter-Go/1.47.0\r\n"
			  "\r\n"), TELEMETRY_SPANS);
	CHECK_INT(kind_of("POST /v1/traces HTTP/1.1\r\nUser-Agent: weftx/1\r\n\r\n"),
		  TELEMETRY_SPANS);
	/* not an intake: weft's User-Agent alone decides nothing */
	CHECK_INT(kind_of("POST /orders HTTP/1.1\r\nUser-Agent: weft/0.4.0\r\n\r\n"),
		  TELEMETRY_NONE);
	return true;
}

/* What is not an intake: other methods, near-miss paths, responses. */
static bool test_not_telemetry(void)
{
	CHECK_INT(kind_of("GET /v1/traces HTTP/1.1\r\n\r\n"), TELEMETRY_NONE);
	CHECK_INT(kind_of("GET /api/traces?service=x HTTP/1.1\r\n\r\n"), TELEMETRY_NONE);
	CHECK_INT(kind_of("PUT /v1/traces HTTP/1.1\r\n\r\n"), TELEMETRY_NONE);
	CHECK_INT(kind_of("post /v1/traces HTTP/1.1\r\n\r\n"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/v1/tracesx", "application/x-protobuf"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/xv1/traces", "application/x-protobuf"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/v1/traces/123", "application/x-protobuf"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/v2/traces", "application/x-protobuf"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/api/v3/spans", "application/json"), TELEMETRY_NONE);
	CHECK_INT(kind_post("/", NULL), TELEMETRY_NONE);
	CHECK_INT(kind_post("*", NULL), TELEMETRY_NONE);
	CHECK_INT(kind_post("http://collector:4318", NULL), TELEMETRY_NONE);
	CHECK_INT(kind_post("http:/v1/traces", NULL), TELEMETRY_NONE);
	CHECK_INT(kind_of("HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n\r\n"),
		  TELEMETRY_NONE);
	return true;
}

/* Content-Type as the parser keeps it: the media type, lower case. */
static bool test_content_type_parsed(void)
{
	static struct http_msg m;
	const char *h = "POST /x HTTP/1.1\r\nContent-Type:  Application/JSON ; charset=utf-8\r\n"
			"content-type: text/plain\r\n\r\n";
	char head[256];

	CHECK_INT(http_parse_head((const uint8_t *)h, strlen(h), &m), HTTP_OK);
	CHECK_STR(m.content_type, "application/json");	/* the first one counts */
	h = "POST /x HTTP/1.1\r\n\r\n";
	CHECK_INT(http_parse_head((const uint8_t *)h, strlen(h), &m), HTTP_OK);
	CHECK_STR(m.content_type, "");
	/* longer than the field: nothing kept rather than a prefix */
	snprintf(head, sizeof(head), "POST /x HTTP/1.1\r\nContent-Type: application/%0*d\r\n\r\n",
		 HTTP_CTYPE_MAX, 0);
	CHECK_INT(http_parse_head((const uint8_t *)head, strlen(head), &m), HTTP_OK);
	CHECK_STR(m.content_type, "");
	snprintf(head, sizeof(head), "POST /x HTTP/1.1\r\nContent-Type: a/%0*d\r\n\r\n",
		 HTTP_CTYPE_MAX - 3, 0);
	CHECK_INT(http_parse_head((const uint8_t *)head, strlen(head), &m), HTTP_OK);
	CHECK_INT(strlen(m.content_type), HTTP_CTYPE_MAX - 1);
	return true;
}

int main(void)
{
	RUN(test_exact_paths);
	RUN(test_prefixed_paths);
	RUN(test_weft_exports);
	RUN(test_not_telemetry);
	RUN(test_content_type_parsed);
	return TEST_SUMMARY();
}
