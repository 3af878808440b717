/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Zipkin v2 JSON encoding of spans: the body of a POST to /api/v2/spans
 * (zipkin2-api.yaml, ListOfSpans), mapped as the OpenTelemetry
 * specification's "OpenTelemetry to Zipkin Transformation" says. A pure
 * function like otlp_encode: no I/O, no globals.
 *
 * The mapping, field by field (README, "Exporting to a collector"):
 *   traceId        32 lower-case hex digits, always (also when the high half
 *                  is zero: Zipkin accepts 16 or 32, and 32 is unambiguous)
 *   id, parentId   16 hex digits; parentId absent for a root span
 *   name           the span name as weft makes it (the method), not
 *                  lower-cased: the OpenTelemetry mapping copies Span.Name
 *   kind           SERVER or CLIENT
 *   timestamp      start, whole microseconds since the epoch (truncated)
 *   duration       (end - start) in whole microseconds, at least 1 (Zipkin
 *                  reads 0 as "unknown")
 *   localEndpoint  serviceName = the resource's service.name; a server
 *                  span adds port = server.port, and ipv4/ipv6 when
 *                  server.address is an address literal
 *   remoteEndpoint ipv4/ipv6 and port of network.peer.address/port (the
 *                  client for a server span, the server for a client span);
 *                  a client span also gets serviceName from peer.service,
 *                  else server.address (ranks 1 and 2 of the mapping)
 *   tags           every span attribute (integers in decimal), then every
 *                  resource attribute but service.name (Zipkin has no
 *                  resource; a span attribute of the same key wins),
 *                  otel.scope.name/version = weft/VERSION and their
 *                  deprecated aliases otel.library.name/version,
 *                  w3c.tracestate when the span has one, and the status:
 *                  ERROR gives otel.status_code=ERROR and error=<message or
 *                  "">, plus otel.status_description=<message> when there
 *                  is one (the generic non-OTLP mapping; the OpenTelemetry
 *                  Collector's Zipkin receiver reads the message back from
 *                  it); UNSET gives none of them
 *   shared, debug  never sent: weft gives every server span an id of its
 *                  own (the caller's id is its parent), and keeps no debug
 *                  flag
 * Attributes whose key is one the mapping itself writes (error,
 * otel.status_code, otel.status_description, otel.scope.*, otel.library.*,
 * w3c.tracestate) are left out, so no key appears twice.
 *
 * Strings are escaped for JSON (quote, backslash, control characters) and
 * made valid UTF-8: each maximal ill-formed subsequence becomes U+FFFD,
 * as Unicode 3.9 and every decoder that replaces recommend.
 */
#ifndef WEFT_ZIPKIN_H
#define WEFT_ZIPKIN_H

#include <stddef.h>
#include <stdint.h>
#include "span.h"
#include "exporter.h"

#define ZIPKIN_DEFAULT_ENDPOINT "http://localhost:9411/api/v2/spans"

/*
 * Encodes spans as a JSON array of Zipkin v2 spans, with the config's
 * extra resource attributes and service name applied as otlp_encode does.
 * *out is malloc'd (not NUL-terminated). Returns 0 or -ENOMEM.
 */
int zipkin_encode(struct span *const *spans, size_t n,
		  const struct exporter_config *cfg, uint8_t **out,
		  size_t *out_len);

/* s as a quoted JSON string, escaped and made valid UTF-8 as above;
 * malloc'd and NUL-terminated, NULL when out of memory. For tests. */
char *zipkin_json_quote(const char *s);

#endif /* WEFT_ZIPKIN_H */
