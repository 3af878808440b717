/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Requests that deliver telemetry: an SDK's, a sidecar's or a collector's
 * span, metric and log exports. weft must not trace the pipeline that feeds
 * the backend (README, "Linking": what is never traced): such a request
 * makes no span at either end and carries no user's context further.
 *
 * Decided on the request head alone, where it is parsed: method POST and
 * the path of a telemetry intake (query cut off):
 *   OTLP/HTTP   /v1/traces  /v1/metrics  /v1/logs  /v1development/profiles
 *   Zipkin      /api/v2/spans  /api/v1/spans
 *   Jaeger      /api/traces  (its HTTP collector, Thrift)
 *   over gRPC   /opentelemetry.proto.collector.{trace,metrics,logs}.v1.
 *               {Trace,Metrics,Logs}Service/Export (and profiles), and
 *               /jaeger.api_v2.CollectorService/PostSpans
 * exactly, or as the end of a longer path ("/otlp/v1/traces" behind a
 * gateway) when Content-Type is one those protocols use (protobuf, JSON,
 * Thrift): a business API ending in "/api/traces" is then still traced
 * unless it also speaks one of their encodings.
 *
 * weft's own exports (User-Agent "weft/...", from this node's weft or
 * another's) are told apart: they are never traced, even when telemetry is,
 * so that no NAT between weft and its collector can start a feedback loop.
 */
#ifndef WEFT_TELEMETRY_H
#define WEFT_TELEMETRY_H

#include "http.h"

enum telemetry_kind {
	TELEMETRY_NONE = 0,	/* an ordinary request */
	TELEMETRY_SPANS,	/* delivers spans: its sender makes its own (rule 3) */
	TELEMETRY_OTHER,	/* metrics, logs, profiles */
	TELEMETRY_WEFT,		/* an export of weft's own: never traced */
};

enum telemetry_kind telemetry_classify(const struct http_msg *req);

#endif /* WEFT_TELEMETRY_H */
