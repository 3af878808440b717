/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Head sampling of the traces weft starts or continues: the samplers of the
 * OpenTelemetry SDK specification, configured the way SDKs are
 * (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; --sampler and
 * --sampler-arg win over them).
 *
 * traceidratio decides from the trace id alone, exactly as the SDKs do
 * (the Go SDK's TraceIDRatioBased): the trace id's low 8 bytes as a
 * big-endian integer, shifted right by one, below ratio * 2^63. Every weft
 * on every node, and every SDK with the same ratio, so keeps or drops a
 * trace as a whole.
 *
 * parentbased_*: a caller's sampled flag wins (sampled: keep, not sampled:
 * drop); with no caller, or one that deferred the decision (B3 without a
 * sampling state), the root sampler decides. A debug flag (B3 "d" or
 * X-B3-Flags: 1, Jaeger's debug bit) keeps the span under every sampler: a
 * person asked for that trace.
 */
#ifndef WEFT_SAMPLER_H
#define WEFT_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct trace_ctx;

enum sampler_kind {
	SAMPLER_ALWAYS_ON,
	SAMPLER_ALWAYS_OFF,
	SAMPLER_TRACEIDRATIO,
	SAMPLER_PB_ALWAYS_ON,		/* the SDKs' default, and weft's */
	SAMPLER_PB_ALWAYS_OFF,
	SAMPLER_PB_TRACEIDRATIO,
};

/* What a request's context says of its caller's decision. */
enum sampler_parent {
	SAMPLER_PARENT_NONE,		/* no caller, or it deferred the decision */
	SAMPLER_PARENT_SAMPLED,
	SAMPLER_PARENT_NOT_SAMPLED,
	SAMPLER_PARENT_DEBUG,		/* kept by every sampler */
};

struct sampler_stats {
	uint64_t decisions;		/* spans that did not inherit a decision
					 * from a span on this node */
	uint64_t sampled;
	uint64_t dropped_sampler;	/* dropped by the sampler itself (the
					 * root sampler, a ratio, always_off) */
	uint64_t dropped_parent;	/* dropped following a caller's flag */
	uint64_t debug;			/* kept for a debug flag */
};

struct sampler {
	enum sampler_kind kind;
	double ratio;			/* traceidratio: in [0, 1] */
	uint64_t bound;			/* ratio * 2^63, as the SDKs compute it */
	struct sampler_stats st;
};

/* A sampler of this kind (ratio ignored unless it takes one). */
void sampler_init(struct sampler *s, enum sampler_kind kind, double ratio);

/*
 * The sampler from an OTEL_TRACES_SAMPLER name and OTEL_TRACES_SAMPLER_ARG
 * value (NULL or blank: unset), the way the SDKs read them: the name is
 * trimmed and case-insensitive, an unknown name means the default
 * (parentbased_always_on), a ratio that is not a number in [0, 1] means
 * 1.0. Each such fallback is one warning line on warn (NULL: none).
 * Returns the number of warnings.
 */
int sampler_from_strings(struct sampler *s, const char *name, const char *arg,
			 const char *name_var, const char *arg_var, FILE *warn);

/*
 * The sampler weft runs with: the flags (NULL when not given) win over
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, each on its own. A bad
 * variable is warned about and replaced by the spec's default; a bad flag
 * is a usage error (-1, after saying why on stderr).
 */
int sampler_configure(struct sampler *s, const char *flag_name, const char *flag_arg);

/* Parsers of one name / one ratio: 0, or -1 when invalid (nothing said). */
int sampler_kind_parse(const char *name, enum sampler_kind *out);
int sampler_ratio_parse(const char *arg, double *out);
const char *sampler_kind_name(enum sampler_kind kind);
/* The sampler's name as OTEL_TRACES_SAMPLER spells it, with its ratio. */
void sampler_describe(const struct sampler *s, char *buf, size_t size);

/* traceidratio's test: the trace id's low 8 bytes (big-endian) >> 1 < bound. */
bool sampler_ratio_keeps(uint64_t bound, const uint8_t trace_id[16]);

/* The caller's decision as a request's context carries it. */
enum sampler_parent sampler_parent_of(const struct trace_ctx *ctx);

/*
 * Keep (true) or drop a span of trace_id whose caller decided parent.
 * s NULL: parentbased_always_on, not counted. Counts into s->st.
 */
bool sampler_decide(struct sampler *s, const uint8_t trace_id[16],
		    enum sampler_parent parent);

/* One "weft: sampler: ..." line of counters. */
void sampler_print_stats(FILE *f, const struct sampler *s);

#endif /* WEFT_SAMPLER_H */
