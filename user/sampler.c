// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The OpenTelemetry samplers (see sampler.h), decided where link.c gives a
 * span its trace: the decision then travels with the trace along the
 * linking rules (README, Linking, rule 7).
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "propagation.h"
#include "sampler.h"

static const char *const kind_names[] = {
	[SAMPLER_ALWAYS_ON] = "always_on",
	[SAMPLER_ALWAYS_OFF] = "always_off",
	[SAMPLER_TRACEIDRATIO] = "traceidratio",
	[SAMPLER_PB_ALWAYS_ON] = "parentbased_always_on",
	[SAMPLER_PB_ALWAYS_OFF] = "parentbased_always_off",
	[SAMPLER_PB_TRACEIDRATIO] = "parentbased_traceidratio",
};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))
#define KIND_LIST "always_on, always_off, traceidratio, parentbased_always_on, " \
		  "parentbased_always_off, parentbased_traceidratio"

static bool takes_ratio(enum sampler_kind k)
{
	return k == SAMPLER_TRACEIDRATIO || k == SAMPLER_PB_TRACEIDRATIO;
}

static bool parent_based(enum sampler_kind k)
{
	return k == SAMPLER_PB_ALWAYS_ON || k == SAMPLER_PB_ALWAYS_OFF ||
	       k == SAMPLER_PB_TRACEIDRATIO;
}

const char *sampler_kind_name(enum sampler_kind kind)
{
	return (unsigned)kind < N_KINDS ? kind_names[kind] : "?";
}

void sampler_init(struct sampler *s, enum sampler_kind kind, double ratio)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	if (!takes_ratio(kind) || ratio >= 1.0)
		ratio = 1.0;
	else if (!(ratio > 0.0))
		ratio = 0.0;	/* and -0.0 */
	s->ratio = ratio;
	/* The SDKs' bound: the float product, truncated (exact: a power of
	 * two scales without rounding). Ratio 1 needs no bound: every id
	 * keeps, as 2^63 would give. */
	s->bound = ratio >= 1.0 ? UINT64_C(1) << 63 :
				  (uint64_t)(ratio * 9223372036854775808.0);
}

/* [s, s+n) without leading and trailing blanks, as a new string. */
static char *trimmed(const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

int sampler_kind_parse(const char *name, enum sampler_kind *out)
{
	char *t = trimmed(name);
	int rc = -1;

	for (size_t i = 0; t && i < N_KINDS; i++)
		if (strcasecmp(t, kind_names[i]) == 0) {
			*out = i;
			rc = 0;
			break;
		}
	free(t);
	return rc;
}

static const char *digits(const char *p, bool hex, bool *any)
{
	while (hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p)) {
		p++;
		*any = true;
	}
	return p;
}

/*
 * The number syntax the SDKs accept (Go's strconv.ParseFloat, without its
 * underscores): decimal with an optional fraction and exponent, or hex with
 * a mandatory binary exponent ("0x1p-2"). strtod alone would also take
 * "0x1", "nan(x)" and "infinity", which the SDKs refuse or read otherwise.
 */
static bool float_syntax(const char *p)
{
	bool any = false, hex = false;

	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		hex = true;
		p += 2;
	}
	p = digits(p, hex, &any);
	if (*p == '.')
		p = digits(p + 1, hex, &any);
	if (!any)
		return false;
	if (hex ? (*p == 'p' || *p == 'P') : (*p == 'e' || *p == 'E')) {
		bool exp = false;

		p++;
		if (*p == '+' || *p == '-')
			p++;
		p = digits(p, false, &exp);
		if (!exp)
			return false;
	} else if (hex) {
		return false;
	}
	return *p == '\0';
}

int sampler_ratio_parse(const char *arg, double *out)
{
	char *t = trimmed(arg), *end;
	double v;
	int rc = -1;

	if (!t || !float_syntax(t))
		goto out;
	errno = 0;
	v = strtod(t, &end);
	/* overflow is out of range; underflow is the tiny number it is */
	if (*end || (errno == ERANGE && (v > 1.0 || v < -1.0)) || v != v ||
	    v < 0.0 || v > 1.0)
		goto out;
	*out = v;
	rc = 0;
out:
	free(t);
	return rc;
}

static bool blank(const char *s)
{
	if (!s)
		return true;
	while (isspace((unsigned char)*s))
		s++;
	return !*s;
}

int sampler_from_strings(struct sampler *s, const char *name, const char *arg,
			 const char *name_var, const char *arg_var, FILE *warn)
{
	enum sampler_kind kind = SAMPLER_PB_ALWAYS_ON;
	double ratio = 1.0;
	int warnings = 0;

	if (!blank(name) && sampler_kind_parse(name, &kind)) {
		if (warn)
			fprintf(warn, "weft: %s=\"%s\" is not a sampler weft knows (" KIND_LIST
				"); using parentbased_always_on\n", name_var, name);
		warnings++;
	}
	if (takes_ratio(kind) && !blank(arg) && sampler_ratio_parse(arg, &ratio)) {
		if (warn)
			fprintf(warn, "weft: %s=\"%s\" is not a ratio from 0 to 1; "
				"using 1.0 (every trace)\n", arg_var, arg);
		ratio = 1.0;
		warnings++;
	}
	sampler_init(s, kind, ratio);
	return warnings;
}

int sampler_configure(struct sampler *s, const char *flag_name, const char *flag_arg)
{
	enum sampler_kind kind;
	double ratio;

	if (flag_name && sampler_kind_parse(flag_name, &kind)) {
		fprintf(stderr, "weft: --sampler must be one of " KIND_LIST ", not '%s'\n",
			flag_name);
		return -1;
	}
	if (flag_arg && sampler_ratio_parse(flag_arg, &ratio)) {
		fprintf(stderr, "weft: --sampler-arg must be a ratio from 0 to 1, not '%s'\n",
			flag_arg);
		return -1;
	}
	/* each flag replaces its own variable: the other may still count */
	sampler_from_strings(s, flag_name ? flag_name : getenv("OTEL_TRACES_SAMPLER"),
			     flag_arg ? flag_arg : getenv("OTEL_TRACES_SAMPLER_ARG"),
			     flag_name ? "--sampler" : "OTEL_TRACES_SAMPLER",
			     flag_arg ? "--sampler-arg" : "OTEL_TRACES_SAMPLER_ARG", stderr);
	if (flag_arg && !takes_ratio(s->kind))
		fprintf(stderr, "weft: --sampler-arg %s is ignored: %s takes no ratio\n",
			flag_arg, sampler_kind_name(s->kind));
	return 0;
}

void sampler_describe(const struct sampler *s, char *buf, size_t size)
{
	if (takes_ratio(s->kind))
		snprintf(buf, size, "%s %g", sampler_kind_name(s->kind), s->ratio);
	else
		snprintf(buf, size, "%s", sampler_kind_name(s->kind));
}

bool sampler_ratio_keeps(uint64_t bound, const uint8_t trace_id[16])
{
	uint64_t x = 0;

	for (int i = 8; i < 16; i++)
		x = x << 8 | trace_id[i];
	return x >> 1 < bound;
}

enum sampler_parent sampler_parent_of(const struct trace_ctx *ctx)
{
	if (ctx->debug)
		return SAMPLER_PARENT_DEBUG;
	if (ctx->sampled > 0)
		return SAMPLER_PARENT_SAMPLED;
	if (ctx->sampled == 0)
		return SAMPLER_PARENT_NOT_SAMPLED;
	return SAMPLER_PARENT_NONE;
}

/* The sampler that decides when no caller did. */
static bool root_keeps(const struct sampler *s, const uint8_t trace_id[16])
{
	switch (s->kind) {
	case SAMPLER_ALWAYS_ON:
	case SAMPLER_PB_ALWAYS_ON:
		return true;
	case SAMPLER_ALWAYS_OFF:
	case SAMPLER_PB_ALWAYS_OFF:
		return false;
	case SAMPLER_TRACEIDRATIO:
	case SAMPLER_PB_TRACEIDRATIO:
		return s->ratio >= 1.0 || sampler_ratio_keeps(s->bound, trace_id);
	}
	return true;
}

bool sampler_decide(struct sampler *s, const uint8_t trace_id[16],
		    enum sampler_parent parent)
{
	static const struct sampler dflt = { .kind = SAMPLER_PB_ALWAYS_ON, .ratio = 1.0 };
	const struct sampler *use = s ? s : &dflt;
	bool keep, followed = false;

	if (parent == SAMPLER_PARENT_DEBUG) {
		keep = true;
	} else if (parent_based(use->kind) && parent != SAMPLER_PARENT_NONE) {
		keep = parent == SAMPLER_PARENT_SAMPLED;
		followed = true;
	} else {
		keep = root_keeps(use, trace_id);
	}
	if (s) {
		s->st.decisions++;
		if (keep)
			s->st.sampled++;
		else if (followed)
			s->st.dropped_parent++;
		else
			s->st.dropped_sampler++;
		if (parent == SAMPLER_PARENT_DEBUG)
			s->st.debug++;
	}
	return keep;
}

void sampler_print_stats(FILE *f, const struct sampler *s)
{
	char name[64];

	sampler_describe(s, name, sizeof(name));
	fprintf(f, "weft: sampler %s: decisions %" PRIu64 ", sampled %" PRIu64
		" (debug flag %" PRIu64 "), dropped by the sampler %" PRIu64
		", dropped following the caller's flag %" PRIu64 "\n",
		name, s->st.decisions, s->st.sampled, s->st.debug,
		s->st.dropped_sampler, s->st.dropped_parent);
}
