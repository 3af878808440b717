// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which requests deliver telemetry: see telemetry.h. */
#include <string.h>
#include "telemetry.h"

static const struct {
	const char *path;
	size_t len;
	enum telemetry_kind kind;
} intakes[] = {
	{ "/v1/traces", 10, TELEMETRY_SPANS },
	{ "/v1/metrics", 11, TELEMETRY_OTHER },
	{ "/v1/logs", 8, TELEMETRY_OTHER },
	{ "/v1development/profiles", 23, TELEMETRY_OTHER },
	{ "/api/v2/spans", 13, TELEMETRY_SPANS },
	{ "/api/v1/spans", 13, TELEMETRY_SPANS },
	{ "/api/traces", 11, TELEMETRY_SPANS },
	/* the same intakes over gRPC (HTTP/2: :path of the call) */
#define GRPC(p, k) { p, sizeof(p) - 1, k }
	GRPC("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	     TELEMETRY_SPANS),
	GRPC("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	     TELEMETRY_OTHER),
	GRPC("/opentelemetry.proto.collector.logs.v1.LogsService/Export",
	     TELEMETRY_OTHER),
	GRPC("/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
	     TELEMETRY_OTHER),
	GRPC("/jaeger.api_v2.CollectorService/PostSpans", TELEMETRY_SPANS),
#undef GRPC
};

/* Media types of OTLP/HTTP (binary and JSON), Zipkin (JSON, Thrift, proto3)
 * and Jaeger's collector (Thrift). */
static const char *const media_types[] = {
	"application/x-protobuf",
	"application/protobuf",
	"application/json",
	"application/x-thrift",
	"application/vnd.apache.thrift.binary",
	"application/vnd.apache.thrift.compact",
	"application/grpc",
};

static bool telemetry_media_type(const char *ct)
{
	for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++)
		if (strcmp(ct, media_types[i]) == 0)
			return true;
	return false;
}

enum telemetry_kind telemetry_classify(const struct http_msg *req)
{
	const char *p = req->target;
	size_t n;

	/* POST, the one method every intake takes; method tokens are
	 * case-sensitive (RFC 9110 9.1) */
	if (!req->is_request || strcmp(req->method, "POST") != 0)
		return TELEMETRY_NONE;
	/* absolute form (to a proxy): the path starts after the authority */
	if (p[0] != '/') {
		const char *a = strstr(p, "://");

		if (!a)
			return TELEMETRY_NONE;
		p = strchr(a + 3, '/');
		if (!p)
			return TELEMETRY_NONE;
	}
	n = strcspn(p, "?#");
	if (n > 1 && p[n - 1] == '/')
		n--;		/* "/v1/traces/" is the same intake */
	for (size_t i = 0; i < sizeof(intakes) / sizeof(intakes[0]); i++) {
		size_t k = intakes[i].len;

		if (n < k || memcmp(p + n - k, intakes[i].path, k) != 0)
			continue;
		if (n != k && !telemetry_media_type(req->content_type))
			continue;
		/* exporter_http.c sets this User-Agent */
		if (strncmp(req->user_agent, "weft/", 5) == 0)
			return TELEMETRY_WEFT;
		return intakes[i].kind;
	}
	return TELEMETRY_NONE;
}
