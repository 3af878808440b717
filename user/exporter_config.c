// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Exporter settings from the standard OTEL_* environment variables, as the
 * OpenTelemetry "OTLP Exporter Configuration" specification defines them:
 * the traces-specific variable wins over the generic one, and only the
 * generic endpoint gets "/v1/traces" appended.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util.h"
#include "exporter.h"
#include "zipkin.h"

#define RES_ATTRS_MAX ((int)(sizeof(((struct exporter_config *)0)->res_keys) / \
			     sizeof(char *)))

/* The traces-specific variable if set and non-empty, else the generic one. */
static const char *env2(const char *traces, const char *generic,
			const char **used)
{
	const char *v = getenv(traces);

	*used = traces;
	if (v && *v)
		return v;
	*used = generic;
	v = getenv(generic);
	return v && *v ? v : NULL;
}

char *exporter_join_endpoint(const char *base)
{
	size_t n = strlen(base);
	char *url;

	while (n > 0 && base[n - 1] == '/')
		n--;
	url = malloc(n + sizeof("/v1/traces"));
	if (!url)
		abort();
	memcpy(url, base, n);
	strcpy(url + n, "/v1/traces");
	return url;
}

/* Trims [*s, *e) of blanks, then percent-decodes it into a new string. */
static char *trim_decode(const char *s, const char *e)
{
	char *out, *o;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	out = o = malloc(e - s + 1);
	if (!out)
		abort();
	while (s < e) {
		int hi, lo;

		if (*s == '%' && e - s >= 3 && (hi = hex_digit(s[1])) >= 0 &&
		    (lo = hex_digit(s[2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/*
 * Calls add(cfg, key, value) for each "k=v" of a comma list (W3C baggage
 * syntax without properties). Empty members are skipped; a member without
 * '=' or with an empty key makes the whole list invalid.
 */
static int parse_pairs(struct exporter_config *cfg, const char *list,
		       const char *what,
		       int (*add)(struct exporter_config *, char *, char *,
				  const char *))
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		const char *eq;
		char *k, *v;
		int err;

		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', end - p);
		if (!eq) {
			k = trim_decode(p, end);
			if (*k) {
				fprintf(stderr, "weft: %s: \"%s\" is not key=value\n",
					what, k);
				free(k);
				return -EINVAL;
			}
			free(k);
		} else {
			k = trim_decode(p, eq);
			v = trim_decode(eq + 1, end);
			if (!*k) {
				fprintf(stderr, "weft: %s: empty key before \"=%s\"\n",
					what, v);
				free(k);
				free(v);
				return -EINVAL;
			}
			err = add(cfg, k, v, what);	/* takes k and v */
			if (err)
				return err;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int add_header(struct exporter_config *cfg, char *k, char *v,
		      const char *what)
{
	char *h = NULL;
	int err = -EINVAL;

	/* A header name is an HTTP token; a value must not smuggle in a
	 * second header line. */
	for (const char *c = k; *c; c++) {
		if (*c <= ' ' || *c >= 127 || strchr("()<>@,;:\\\"/[]?={}", *c)) {
			fprintf(stderr, "weft: %s: bad header name \"%s\"\n", what, k);
			goto out;
		}
	}
	if (strpbrk(v, "\r\n")) {
		fprintf(stderr, "weft: %s: value of \"%s\" contains a line break\n",
			what, k);
		goto out;
	}
	if (cfg->n_headers >= EXPORTER_MAX_HEADERS) {
		fprintf(stderr, "weft: %s: more than %d headers\n", what,
			EXPORTER_MAX_HEADERS);
		goto out;
	}
	if (asprintf(&h, "%s: %s", k, v) < 0)
		abort();
	cfg->headers[cfg->n_headers++] = h;
	err = 0;
out:
	free(k);
	free(v);
	return err;
}

static int add_res_attr(struct exporter_config *cfg, char *k, char *v,
			const char *what)
{
	for (int i = 0; i < cfg->n_res_attrs; i++) {
		if (strcmp(cfg->res_keys[i], k) == 0) {
			free(k);
			free(cfg->res_vals[i]);
			cfg->res_vals[i] = v;
			return 0;
		}
	}
	if (cfg->n_res_attrs >= RES_ATTRS_MAX) {
		fprintf(stderr, "weft: %s: more than %d attributes\n", what,
			RES_ATTRS_MAX);
		free(k);
		free(v);
		return -EINVAL;
	}
	cfg->res_keys[cfg->n_res_attrs] = k;
	cfg->res_vals[cfg->n_res_attrs++] = v;
	return 0;
}

int exporter_parse_headers(struct exporter_config *cfg, const char *list)
{
	return parse_pairs(cfg, list, "OTEL_EXPORTER_OTLP_HEADERS", add_header);
}

/* The same, naming the variable the list came from in messages. */
static int parse_headers_from(struct exporter_config *cfg, const char *list,
			      const char *var)
{
	return parse_pairs(cfg, list, var, add_header);
}

int exporter_parse_resource_attrs(struct exporter_config *cfg, const char *list)
{
	return parse_pairs(cfg, list, "OTEL_RESOURCE_ATTRIBUTES", add_res_attr);
}

static void free_res_attrs(struct exporter_config *cfg)
{
	for (int i = 0; i < cfg->n_res_attrs; i++) {
		free(cfg->res_keys[i]);
		free(cfg->res_vals[i]);
	}
	cfg->n_res_attrs = 0;
}

static int parse_ms(const char *name, const char *s, int *out)
{
	long v;

	if (!parse_decimal(s, 1, INT_MAX, true, &v)) {
		fprintf(stderr, "weft: %s=\"%s\": expected a positive number of milliseconds\n",
			name, s);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static void set_path(char **dst, const char *traces, const char *generic)
{
	const char *used, *v = env2(traces, generic, &used);

	if (v) {
		free(*dst);
		*dst = xstrdup(v);
	}
}

static const char *env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* The order is in exporter.h; *explicit says it was asked for by name. */
static int choose_format(const struct exporter_select *sel,
			 enum exporter_format *out, bool *explicit)
{
	const char *v;

	*explicit = true;
	if (sel && sel->format != EXPORTER_UNSET) {
		*out = sel->format;
		return 0;
	}
	*explicit = false;
	if (sel && (sel->otlp_endpoint || sel->zipkin_endpoint)) {
		*out = sel->otlp_endpoint ? EXPORTER_OTLP : EXPORTER_ZIPKIN;
		return 0;
	}
	v = env_set("OTEL_TRACES_EXPORTER");
	*out = EXPORTER_UNSET;
	if (v && exporter_parse_format(v, true, out))
		return -EINVAL;
	if (*out != EXPORTER_UNSET) {
		*explicit = true;
		return 0;
	}
	if (env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ||
	    env_set("OTEL_EXPORTER_OTLP_ENDPOINT"))
		*out = EXPORTER_OTLP;
	else if (env_set("OTEL_EXPORTER_ZIPKIN_ENDPOINT"))
		*out = EXPORTER_ZIPKIN;
	else
		*out = EXPORTER_NONE;
	return 0;
}

/* Zipkin's variables (the specification's "Zipkin Exporter" section): the
 * endpoint, used as is (exporter_config_finish makes it the endpoint), and
 * the timeout. The OTLP ones are not read. */
static int zipkin_env(struct exporter_config *cfg)
{
	const char *v = env_set("OTEL_EXPORTER_ZIPKIN_ENDPOINT");

	cfg->zipkin_endpoint = xstrdup(v ? v : ZIPKIN_DEFAULT_ENDPOINT);
	v = env_set("OTEL_EXPORTER_ZIPKIN_TIMEOUT");
	return v ? parse_ms("OTEL_EXPORTER_ZIPKIN_TIMEOUT", v, &cfg->timeout_ms) : 0;
}

int exporter_config_init(struct exporter_config *cfg)
{
	int err = exporter_config_init_sel(cfg, NULL);

	return err ? err : exporter_config_finish(cfg);
}

int exporter_config_init_sel(struct exporter_config *cfg,
			     const struct exporter_select *sel)
{
	const char *used, *v;
	bool explicit;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->gzip = true;
	cfg->timeout_ms = 10000;
	cfg->batch_size = 512;
	cfg->batch_timeout_ms = 1000;
	cfg->queue_batches = 64;
	cfg->shutdown_ms = 5000;
	cfg->retry_max_ms = 300000;

	if ((err = choose_format(sel, &cfg->format, &explicit)))
		goto fail;
	if (cfg->format == EXPORTER_ZIPKIN) {
		if ((err = zipkin_env(cfg)))
			goto fail;
		goto common;
	}

	v = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	if (v && *v) {
		cfg->endpoint = xstrdup(v);	/* used as is, per the spec */
	} else {
		v = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
		if (v && *v)
			cfg->endpoint = exporter_join_endpoint(v);
	}

	/* Signal-specific headers replace the generic list, not merge with it. */
	v = env2("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS",
		 &used);
	if (v && (err = parse_headers_from(cfg, v, used)))
		goto fail;

	v = env2("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
		 "OTEL_EXPORTER_OTLP_COMPRESSION", &used);
	if (v) {
		if (strcmp(v, "gzip") == 0) {
			cfg->gzip = true;
		} else if (strcmp(v, "none") == 0) {
			cfg->gzip = false;
		} else {
			fprintf(stderr, "weft: %s=\"%s\": expected gzip or none\n",
				used, v);
			err = -EINVAL;
			goto fail;
		}
	}

	v = env2("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
		 &used);
	if (v && (err = parse_ms(used, v, &cfg->timeout_ms)))
		goto fail;

	set_path(&cfg->ca_file, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
		 "OTEL_EXPORTER_OTLP_CERTIFICATE");
	set_path(&cfg->cert_file, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
		 "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
	set_path(&cfg->key_file, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
		 "OTEL_EXPORTER_OTLP_CLIENT_KEY");
	if (cfg->format == EXPORTER_OTLP && explicit && !cfg->endpoint)
		cfg->endpoint = xstrdup(OTLP_DEFAULT_ENDPOINT);
	if (cfg->format == EXPORTER_NONE && explicit) {
		free(cfg->endpoint);
		cfg->endpoint = NULL;
	}

common:
	/* The SDK spec says a malformed value is discarded with an error, not
	 * fatal: the spans are still worth sending without the extras. */
	v = getenv("OTEL_RESOURCE_ATTRIBUTES");
	if (v && exporter_parse_resource_attrs(cfg, v)) {
		fprintf(stderr, "weft: ignoring OTEL_RESOURCE_ATTRIBUTES\n");
		free_res_attrs(cfg);
	}

	v = getenv("OTEL_SERVICE_NAME");
	if (v && *v)
		cfg->service_name = xstrdup(v);
	return 0;
fail:
	exporter_config_free(cfg);
	return err;
}

void exporter_config_free(struct exporter_config *cfg)
{
	free(cfg->endpoint);
	free(cfg->zipkin_endpoint);
	for (int i = 0; i < cfg->n_headers; i++)
		free(cfg->headers[i]);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free_res_attrs(cfg);
	free(cfg->service_name);
	memset(cfg, 0, sizeof(*cfg));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void exporter_config_copy(struct exporter_config *dst,
			  const struct exporter_config *src)
{
	*dst = *src;
	dst->endpoint = dup_or_null(src->endpoint);
	dst->zipkin_endpoint = dup_or_null(src->zipkin_endpoint);
	for (int i = 0; i < src->n_headers; i++)
		dst->headers[i] = xstrdup(src->headers[i]);
	dst->ca_file = dup_or_null(src->ca_file);
	dst->cert_file = dup_or_null(src->cert_file);
	dst->key_file = dup_or_null(src->key_file);
	for (int i = 0; i < src->n_res_attrs; i++) {
		dst->res_keys[i] = xstrdup(src->res_keys[i]);
		dst->res_vals[i] = xstrdup(src->res_vals[i]);
	}
	dst->service_name = dup_or_null(src->service_name);
}

const char *exporter_format_name(enum exporter_format f)
{
	switch (f) {
	case EXPORTER_OTLP:
		return "otlp";
	case EXPORTER_ZIPKIN:
		return "zipkin";
	case EXPORTER_NONE:
		return "none";
	default:
		return "unset";
	}
}

/* One name of [s, e), any case (the OpenTelemetry environment
 * specification's enum values); UNSET when unsupported. */
static enum exporter_format format_of(const char *s, size_t n)
{
	static const enum exporter_format fmts[] = {
		EXPORTER_OTLP, EXPORTER_ZIPKIN, EXPORTER_NONE,
	};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		const char *name = exporter_format_name(fmts[i]);

		if (strlen(name) == n && strncasecmp(s, name, n) == 0)
			return fmts[i];
	}
	return EXPORTER_UNSET;
}

int exporter_parse_format(const char *s, bool list, enum exporter_format *out)
{
	const char *p = s;

	*out = EXPORTER_UNSET;
	if (!list) {
		*out = format_of(s, strlen(s));
		if (*out != EXPORTER_UNSET)
			return 0;
		fprintf(stderr, "weft: --exporter must be otlp, zipkin or none, not '%s'\n", s);
		return -EINVAL;
	}
	/* OTEL_TRACES_EXPORTER: weft runs one exporter, the first it has. */
	while (*p) {
		const char *end = p + strcspn(p, ",");
		const char *b = p, *e = end;
		enum exporter_format f;

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (e > b) {
			f = format_of(b, e - b);
			if (f == EXPORTER_UNSET)
				fprintf(stderr, "weft: OTEL_TRACES_EXPORTER: '%.*s' is not "
					"supported (otlp, zipkin, none), ignored\n",
					(int)(e - b), b);
			else if (*out != EXPORTER_UNSET)
				fprintf(stderr, "weft: OTEL_TRACES_EXPORTER: '%.*s' ignored: "
					"weft exports with one exporter, %s\n",
					(int)(e - b), b, exporter_format_name(*out));
			else
				*out = f;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

int exporter_config_finish(struct exporter_config *cfg)
{
	switch (cfg->format) {
	case EXPORTER_ZIPKIN:
		if (!cfg->zipkin_endpoint)
			cfg->zipkin_endpoint = xstrdup(ZIPKIN_DEFAULT_ENDPOINT);
		if (cfg->endpoint)	/* an OTLP endpoint flag */
			fprintf(stderr, "weft: exporting Zipkin to %s: OTLP endpoint %s "
				"not used\n", cfg->zipkin_endpoint, cfg->endpoint);
		free(cfg->endpoint);
		cfg->endpoint = xstrdup(cfg->zipkin_endpoint);
		break;
	case EXPORTER_OTLP:
		if (cfg->zipkin_endpoint && cfg->endpoint)
			fprintf(stderr, "weft: exporting OTLP to %s: Zipkin endpoint %s "
				"not used\n", cfg->endpoint, cfg->zipkin_endpoint);
		if (!cfg->endpoint)
			cfg->format = EXPORTER_NONE;
		break;
	default:
		free(cfg->endpoint);
		cfg->endpoint = NULL;
		cfg->format = EXPORTER_NONE;
		break;
	}
	return 0;
}
