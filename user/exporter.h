/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP/HTTP exporter: batches spans by size and age, encodes them
 * (otlp.c), gzips and POSTs them from a thread of its own, retries what the
 * specification says is retryable, and keeps memory bounded by dropping the
 * oldest batches when the collector cannot keep up. Every drop is counted.
 */
#ifndef WEFT_EXPORTER_H
#define WEFT_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "span.h"

#define EXPORTER_MAX_HEADERS 32
#define OTLP_DEFAULT_ENDPOINT "http://localhost:4318/v1/traces"

/* The wire format of the export (--exporter, OTEL_TRACES_EXPORTER). */
enum exporter_format {
	EXPORTER_UNSET,		/* not chosen: implied by the endpoints given */
	EXPORTER_OTLP,		/* OTLP/HTTP protobuf (otlp.c) */
	EXPORTER_ZIPKIN,	/* Zipkin v2 JSON (zipkin.c) */
	EXPORTER_NONE,
};

/* What the command line says about the exporter, read before the
 * environment so that the environment of the other format is not used. */
struct exporter_select {
	enum exporter_format format;	/* --exporter, UNSET = not given */
	bool otlp_endpoint;		/* --otlp-endpoint/--otlp-traces-endpoint */
	bool zipkin_endpoint;		/* --zipkin-endpoint */
};

struct exporter_config {
	char *endpoint;		/* full URL of the traces endpoint, NULL = off */
	enum exporter_format format;	/* OTLP or ZIPKIN when endpoint is set */
	char *zipkin_endpoint;	/* Zipkin URL (flag, environment or default) */
	char *headers[EXPORTER_MAX_HEADERS]; /* "Name: value" */
	int n_headers;
	bool gzip;		/* default true */
	int timeout_ms;		/* per request, default 10000 */
	char *ca_file;		/* TLS: CA bundle */
	char *cert_file;	/* TLS: client certificate */
	char *key_file;		/* TLS: client key */
	bool insecure;		/* TLS: skip verification (flag only) */
	int batch_size;		/* spans per request, default 512 */
	int batch_timeout_ms;	/* oldest span waits at most this, default 1000 */
	int queue_batches;	/* batches held while the collector lags, default 64 */
	int shutdown_ms;	/* flush deadline at exit, default 5000 */
	int retry_max_ms;	/* a batch is given up after retrying this long,
				 * default 300000 */
	/* OTEL_RESOURCE_ATTRIBUTES, parsed "k=v" pairs added to every resource */
	char *res_keys[32];
	char *res_vals[32];
	int n_res_attrs;
	char *service_name;	/* OTEL_SERVICE_NAME override, NULL = per process */
	/* Told of every connection to the collector, before the first byte
	 * of a request goes out (open) and when it is closed: weft's own
	 * connections are not traced at either end (ownconn.h). NULL = no. */
	void (*on_conn)(const struct sockaddr *local, const struct sockaddr *peer,
			bool open);
};

struct exporter_stats {
	uint64_t spans_in;		/* spans handed to the exporter */
	uint64_t spans_exported;	/* accepted by the collector */
	uint64_t spans_rejected;	/* partial_success rejected_spans */
	uint64_t spans_dropped_queue;	/* oldest batches dropped: queue full */
	uint64_t spans_dropped_error;	/* non-retryable error or retries exhausted */
	uint64_t spans_dropped_shutdown;/* still queued at the exit deadline */
	uint64_t requests;		/* HTTP requests made */
	uint64_t retries;
	uint64_t export_errors;		/* failed requests, any cause */
	/* requests by the response's status class: [1]..[5] = 1xx..5xx,
	 * [0] = no response (connection, TLS or timeout error) */
	uint64_t status_class[6];
};

/* Defaults, then the OTEL_* environment (exporter_config_init_sel and
 * exporter_config_finish). Returns 0 or -EINVAL with a message. */
int exporter_config_init(struct exporter_config *cfg);
/*
 * The same, for the format the command line (sel, NULL = nothing) and the
 * environment choose: --exporter, else the format of an endpoint flag, else
 * OTEL_TRACES_EXPORTER, else the format of an endpoint variable (OTLP
 * first), else none. Only the chosen format's variables are read (an OTLP
 * header never goes to a Zipkin server). An explicit otlp or zipkin without
 * an endpoint gets the specification's default endpoint.
 */
int exporter_config_init_sel(struct exporter_config *cfg,
			     const struct exporter_select *sel);
/* After the flags: the endpoint of the chosen format (NULL and format
 * NONE when there is none). Returns 0. */
int exporter_config_finish(struct exporter_config *cfg);
/* "otlp", "zipkin" or "none" (any case) into *out; with list, a comma list
 * of which the first supported value is taken and the rest warned about
 * (OTEL_TRACES_EXPORTER). Returns 0 or -EINVAL with a message. */
int exporter_parse_format(const char *s, bool list, enum exporter_format *out);
const char *exporter_format_name(enum exporter_format f);
/* Joins base + "/v1/traces" as OTEL_EXPORTER_OTLP_ENDPOINT asks. */
char *exporter_join_endpoint(const char *base);
/* Parses "k1=v1,k2=v2" (values percent-decoded) into cfg (resource attrs or
 * headers). Returns 0 or -EINVAL. */
int exporter_parse_headers(struct exporter_config *cfg, const char *list);
int exporter_parse_resource_attrs(struct exporter_config *cfg, const char *list);
void exporter_config_free(struct exporter_config *cfg);
/* Deep copy; the exporter keeps its own so the caller may free cfg. */
void exporter_config_copy(struct exporter_config *dst,
			  const struct exporter_config *src);

struct exporter;
struct exporter *exporter_start(const struct exporter_config *cfg);
/* Takes ownership of s. Never blocks on the network. */
void exporter_submit(struct exporter *e, struct span *s);
void exporter_get_stats(struct exporter *e, struct exporter_stats *out);
/* Flushes within cfg->shutdown_ms, stops the thread, frees everything. */
void exporter_stop(struct exporter *e);
/* The same, copying the final counters (after the flush) to *final. */
void exporter_stop_stats(struct exporter *e, struct exporter_stats *final);

#endif /* WEFT_EXPORTER_H */
