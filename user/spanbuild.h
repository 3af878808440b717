/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stage 5: an exchange becomes a span. Trace context from the request
 * headers, attributes by the stable OpenTelemetry HTTP semantic
 * conventions, status by their rules, resource of the process that
 * handled it.
 */
#ifndef WEFT_SPANBUILD_H
#define WEFT_SPANBUILD_H

#include "exchange.h"
#include "span.h"

/* Build the span for a finished exchange (span.h owns the result). */
struct span *exchange_to_span(const struct exchange *ex,
			      const struct conn_info *ci);

#endif /* WEFT_SPANBUILD_H */
