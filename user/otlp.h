/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP protobuf encoding of spans (the body of a POST to /v1/traces) and
 * decoding of the collector's answer. Pure functions: no I/O, no globals, so
 * the unit tests can check the wire format without a collector.
 */
#ifndef WEFT_OTLP_H
#define WEFT_OTLP_H

#include <stddef.h>
#include <stdint.h>
#include "span.h"
#include "exporter.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "0.0.0"	/* the Makefile passes the real one */
#endif

#define OTLP_SCOPE_NAME "weft"

/*
 * Encodes spans into a serialized ExportTraceServiceRequest: one
 * ResourceSpans per distinct resource (by pointer, in order of first
 * appearance) with the config's extra resource attributes merged in, one
 * ScopeSpans "weft" each. *out is malloc'd. Returns 0 or -ENOMEM.
 */
int otlp_encode(struct span *const *spans, size_t n,
		const struct exporter_config *cfg, uint8_t **out,
		size_t *out_len);

/*
 * Reads ExportTraceServiceResponse.partial_success. An empty body is a full
 * success. *message is malloc'd or NULL. Returns 0 or -EINVAL (not protobuf).
 */
int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected,
			 char **message);

#endif /* WEFT_OTLP_H */
