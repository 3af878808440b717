/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The exporter's transport: one reused libcurl easy handle (so the
 * connection to the collector stays alive between batches) and gzip.
 * Only the exporter thread uses a client; nothing here is shared.
 */
#ifndef WEFT_EXPORTER_HTTP_H
#define WEFT_EXPORTER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "exporter.h"

/* Bytes of a response body kept; the rest is read and thrown away. */
#define HTTP_BODY_MAX (64 * 1024)

struct http_result {
	long status;		/* HTTP status, 0 when no response came */
	int curl_err;		/* CURLcode, 0 when the transfer completed */
	const char *error;	/* curl's explanation when curl_err != 0 */
	char *body;		/* malloc'd, NUL-terminated, at most HTTP_BODY_MAX */
	size_t body_len;
	int retry_after_ms;	/* from Retry-After, -1 when absent */
};

/* The kinds of curl failure worth retrying: the collector may come back. */
enum http_failure {
	HTTP_FAIL_RETRY,	/* network trouble, timeouts */
	HTTP_FAIL_FATAL,	/* configuration: bad URL, certificates */
	HTTP_FAIL_ABORTED,	/* our own abort callback (shutdown deadline) */
};

struct http_client;

/* Returns non-zero to abort the transfer in progress. */
typedef int (*http_abort_fn)(void *arg);

struct http_client *http_client_new(const struct exporter_config *cfg,
				    http_abort_fn should_abort, void *arg);
/* One POST of an OTLP protobuf body; gzipped says whether it is compressed.
 * Fills res (free it with http_result_clear) and returns 0. */
int http_post(struct http_client *c, const uint8_t *body, size_t len,
	      bool gzipped, int timeout_ms, struct http_result *res);
enum http_failure http_classify(int curl_err);
void http_result_clear(struct http_result *res);
void http_client_free(struct http_client *c);

/* gzip (RFC 1952) of in into a malloc'd *out. Returns 0 or -ENOMEM. */
int gzip_compress(const uint8_t *in, size_t len, uint8_t **out,
		  size_t *out_len);

#endif /* WEFT_EXPORTER_HTTP_H */
