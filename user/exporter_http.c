// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* OTLP/HTTP transport: libcurl POST with keep-alive, and gzip via zlib. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <zlib.h>
#include "exporter_http.h"

/* Level 1: span batches are repetitive enough that it compresses nearly as
 * well as the default level 6, at a fraction of the CPU (measured with
 * span_gen --bench; the exporter shares two cores with what it traces). */
#define GZIP_LEVEL Z_BEST_SPEED

#define RETRY_AFTER_MAX_MS (60 * 1000)	/* a collector can't park us longer */

struct http_client {
	CURL *curl;
	void (*on_conn)(const struct sockaddr *local, const struct sockaddr *peer,
			bool open);
	struct curl_slist *headers;
	http_abort_fn should_abort;
	void *abort_arg;
	struct http_result *res;	/* of the transfer in progress */
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* curl_global_init is not thread-safe and must run once per process. */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_result *res = ((struct http_client *)arg)->res;
	size_t n = size * nmemb, keep = n;

	if (res->body_len + keep > HTTP_BODY_MAX)
		keep = HTTP_BODY_MAX - res->body_len;
	if (keep) {
		char *b = realloc(res->body, res->body_len + keep + 1);

		if (!b)
			return 0;	/* fails the transfer: retried later */
		memcpy(b + res->body_len, data, keep);
		res->body = b;
		res->body_len += keep;
		b[res->body_len] = '\0';
	}
	return n;
}

/* Retry-After is delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
static int parse_retry_after(const char *v)
{
	char *end;
	long secs;
	time_t when;

	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		secs = strtol(v, &end, 10);
		if (secs < 0 || secs > RETRY_AFTER_MAX_MS / 1000)
			return RETRY_AFTER_MAX_MS;
		return (int)secs * 1000;
	}
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	secs = when - time(NULL);
	if (secs < 0)
		return 0;
	return secs > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS :
						  (int)secs * 1000;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_result *res = ((struct http_client *)arg)->res;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	char line[256];

	/* A new status line (after 100 Continue, say) starts a new response. */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		res->retry_after_ms = -1;
	if (n < sizeof(name) - 1 || n >= sizeof(line) ||
	    strncasecmp(data, name, sizeof(name) - 1) != 0)
		return n;
	memcpy(line, data + sizeof(name) - 1, n - (sizeof(name) - 1));
	line[n - (sizeof(name) - 1)] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	res->retry_after_ms = parse_retry_after(line);
	return n;
}

static int on_progress(void *arg, curl_off_t dlt, curl_off_t dln,
		       curl_off_t ult, curl_off_t uln)
{
	struct http_client *c = arg;

	return c->should_abort && c->should_abort(c->abort_arg);
}

/* An address as libcurl reports it: "127.0.0.1" or "::1", and a port. */
static bool sockaddr_of(const char *ip, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return true;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return true;
	}
	return false;
}

/* Connected, and nothing of the request sent yet (on a reused connection
 * too: telling the kernel again costs one map update per export). */
static int on_prereq(void *arg, char *peer_ip, char *local_ip, int peer_port,
		     int local_port)
{
	struct http_client *c = arg;
	struct sockaddr_storage local, peer;

	if (sockaddr_of(local_ip, local_port, &local) &&
	    sockaddr_of(peer_ip, peer_port, &peer))
		c->on_conn((struct sockaddr *)&local, (struct sockaddr *)&peer, true);
	return CURL_PREREQFUNC_OK;
}

static int on_close_socket(void *arg, curl_socket_t fd)
{
	struct http_client *c = arg;
	struct sockaddr_storage local, peer;
	socklen_t ll = sizeof(local), pl = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0 &&
	    getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
		c->on_conn((struct sockaddr *)&local, (struct sockaddr *)&peer, false);
	return close(fd);
}

struct http_client *http_client_new(const struct exporter_config *cfg,
				    http_abort_fn should_abort, void *arg)
{
	struct http_client *c;
	CURL *h;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		fprintf(stderr, "weft: failed to initialise libcurl: %s\n",
			curl_easy_strerror(global_rc));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->should_abort = should_abort;
	c->abort_arg = arg;
	c->curl = h = curl_easy_init();
	if (!h) {
		fprintf(stderr, "weft: failed to create a libcurl handle\n");
		free(c);
		return NULL;
	}
	c->headers = curl_slist_append(NULL, cfg->format == EXPORTER_ZIPKIN ?
				       "Content-Type: application/json" :
				       "Content-Type: application/x-protobuf");
	/* Without this curl waits up to a second for "100 Continue". */
	c->headers = curl_slist_append(c->headers, "Expect:");
	for (int i = 0; i < cfg->n_headers; i++)
		c->headers = curl_slist_append(c->headers, cfg->headers[i]);
	if (cfg->gzip)
		c->headers = curl_slist_append(c->headers, "Content-Encoding: gzip");

	curl_easy_setopt(h, CURLOPT_URL, cfg->endpoint);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	/* Signals would be the wrong tool in a threaded agent: no SIGALRM
	 * timeouts for name resolution, no SIGPIPE handling by curl. */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "weft/" WEFT_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	c->on_conn = cfg->on_conn;
	if (c->on_conn) {
		curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
		curl_easy_setopt(h, CURLOPT_PREREQDATA, c);
		curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
		curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, c);
	}
	if (cfg->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
	if (cfg->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
	if (cfg->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return c;
}

int http_post(struct http_client *c, const uint8_t *body, size_t len,
	      bool gzipped, int timeout_ms, struct http_result *res)
{
	CURLcode rc;

	memset(res, 0, sizeof(*res));
	res->retry_after_ms = -1;
	c->res = res;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	rc = curl_easy_perform(c->curl);
	c->res = NULL;
	res->curl_err = rc;
	if (rc != CURLE_OK) {
		res->error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
		res->status = 0;
		return 0;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
	return 0;
}

enum http_failure http_classify(int curl_err)
{
	switch (curl_err) {
	case CURLE_ABORTED_BY_CALLBACK:
		return HTTP_FAIL_ABORTED;
	/* Retrying these can't help: the configuration is wrong. */
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_OUT_OF_MEMORY:
		return HTTP_FAIL_FATAL;
	default:
		return HTTP_FAIL_RETRY;
	}
}

void http_result_clear(struct http_result *res)
{
	free(res->body);
	res->body = NULL;
	res->body_len = 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c);
}

int gzip_compress(const uint8_t *in, size_t len, uint8_t **out,
		  size_t *out_len)
{
	z_stream zs;
	uLong bound;
	int rc;

	*out = NULL;
	*out_len = 0;
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS asks zlib for a gzip header and trailer, which is
	 * what "Content-Encoding: gzip" means (not a raw zlib stream). */
	if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 16 + MAX_WBITS,
			 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&zs, len);
	*out = malloc(bound);
	if (!*out) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = len;
	zs.next_out = *out;
	zs.avail_out = bound;
	/* deflateBound guarantees one Z_FINISH call is enough. */
	rc = deflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return -ENOMEM;
	}
	return 0;
}
