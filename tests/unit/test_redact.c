// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for user/redact.c and its use in spanbuild.c: the values of
 * the semantic conventions' sensitive query parameters (and the user's)
 * become REDACTED in url.query and url.full, userinfo never leaves weft,
 * and no header value but the few weft reports (Authorization, Cookie and
 * the like never) nor any body byte reaches the text, JSON, OTLP or Zipkin
 * output. Ends with the cost per span (printed, not checked).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "cli.h"
#include "exchange.h"
#include "http.h"
#include "otlp.h"
#include "output.h"
#include "redact.h"
#include "spanbuild.h"
#include "zipkin.h"
#include "test.h"

static char out[8192];

static const char *q(const char *s)
{
	redact_query(out, sizeof(out), s, strlen(s));
	return out;
}

static const char *u(const char *s)
{
	redact_url(out, sizeof(out), s, strlen(s));
	return out;
}

static bool test_each_default_param(void)
{
	redact_reset();
	CHECK_STR(q("AWSAccessKeyId=AKIAEXAMPLE&Expires=1&Signature=abc%2Bdef"),
		  "AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED");
	CHECK_STR(q("sv=2020&sig=SASsecret"), "sv=2020&sig=REDACTED");
	CHECK_STR(q("X-Goog-Algorithm=GOOG4&X-Goog-Signature=0badc0de&x=1"),
		  "X-Goog-Algorithm=GOOG4&X-Goog-Signature=REDACTED&x=1");
	/* the conventions' own example */
	CHECK_STR(q("q=OpenTelemetry&sig=abc"), "q=OpenTelemetry&sig=REDACTED");
	CHECK_STR(u("https://www.example.com/path?color=blue&sig=abc"),
		  "https://www.example.com/path?color=blue&sig=REDACTED");
	/* nothing to redact: copied as is */
	CHECK_STR(q("a=1&b=2&signature=x&sigs=y&xsig=z"), "a=1&b=2&signature=x&sigs=y&xsig=z");
	CHECK_STR(q(""), "");
	return true;
}

static bool test_case_sensitive(void)
{
	redact_reset();
	CHECK_STR(q("SIG=a&Sig=b&signature=c&awsaccesskeyid=d&x-goog-signature=e"),
		  "SIG=a&Sig=b&signature=c&awsaccesskeyid=d&x-goog-signature=e");
	CHECK_STR(q("Sig=b&sig=c"), "Sig=b&sig=REDACTED");
	return true;
}

static bool test_repeated_and_valueless(void)
{
	redact_reset();
	CHECK_STR(q("sig=a&sig=b&x=1&sig=c"), "sig=REDACTED&sig=REDACTED&x=1&sig=REDACTED");
	/* no '=': a name alone, nothing to hide */
	CHECK_STR(q("sig"), "sig");
	CHECK_STR(q("sig&x=1"), "sig&x=1");
	/* an empty value is still the parameter's value */
	CHECK_STR(q("sig=&x=1"), "sig=REDACTED&x=1");
	/* '=' inside the value: the first one ends the name */
	CHECK_STR(q("sig=a=b=c&x"), "sig=REDACTED&x");
	CHECK_STR(q("&&sig=a&&"), "&&sig=REDACTED&&");
	CHECK_STR(q("=sig&sig=="), "=sig&sig=REDACTED");
	return true;
}

static bool test_percent_encoded_names(void)
{
	redact_reset();
	CHECK_STR(q("%73ig=abc"), "%73ig=REDACTED");
	CHECK_STR(q("%73%69%67=abc"), "%73%69%67=REDACTED");
	CHECK_STR(q("X%2DGoog%2dSignature=abc"), "X%2DGoog%2dSignature=REDACTED");
	CHECK_STR(q("AWSAccessKey%49d=abc"), "AWSAccessKey%49d=REDACTED");
	/* decoded case still counts: %53 is 'S' */
	CHECK_STR(q("%53ig=abc"), "%53ig=abc");
	/* not valid escapes: compared as they are */
	CHECK_STR(q("si%zg=abc&si%6=x&sig%=y"), "si%zg=abc&si%6=x&sig%=y");
	/* '+' is a space in a form-encoded name */
	CHECK_STR(q("sig+=abc"), "sig+=abc");
	CHECK_INT(redact_add_param("api key"), 0);
	CHECK_STR(q("api+key=s1&api%20key=s2&api key=s3&apikey=ok"),
		  "api+key=REDACTED&api%20key=REDACTED&api key=REDACTED&apikey=ok");
	/* a name longer than any in the list is never decoded far */
	{
		char big[1200];

		memset(big, 0, sizeof(big));
		for (int i = 0; i < 300; i++)
			strcat(big, "%41");
		strcat(big, "=v");
		CHECK_STR(q(big), big);
	}
	redact_reset();
	return true;
}

static bool test_fragments(void)
{
	redact_reset();
	/* a request target has no fragment: the value runs to the next '&' */
	CHECK_STR(q("sig=abc#frag"), "sig=REDACTED");
	CHECK_STR(q("sig=abc#frag&x=1"), "sig=REDACTED&x=1");
	/* and what follows a '#' elsewhere is checked too */
	CHECK_STR(q("a=1#sig=x"), "a=1#sig=REDACTED");
	CHECK_STR(q("a=1#frag"), "a=1#frag");
	CHECK_STR(u("http://h/p?a=1#sig=x&b=2"), "http://h/p?a=1#sig=REDACTED&b=2");
	/* a '?' after a '#' still starts the query, as servers read it */
	CHECK_STR(u("http://h/p#f?sig=x"), "http://h/p#f?sig=REDACTED");
	CHECK_STR(u("/p#f"), "/p#f");
	return true;
}

static bool test_userinfo(void)
{
	redact_reset();
	CHECK_STR(u("https://username:password@www.example.com/"),
		  "https://REDACTED:REDACTED@www.example.com/");
	CHECK_STR(u("http://user@h:8080/x?y=1"), "http://REDACTED:REDACTED@h:8080/x?y=1");
	CHECK_STR(u("http://u:p@h"), "http://REDACTED:REDACTED@h");
	CHECK_STR(u("http://u:p@h?sig=1"), "http://REDACTED:REDACTED@h?sig=REDACTED");
	CHECK_STR(u("http://u:p@h#f"), "http://REDACTED:REDACTED@h#f");
	/* an '@' in the password: the last one in the authority ends it */
	CHECK_STR(u("http://a@b:c@d@host:1/p"), "http://REDACTED:REDACTED@host:1/p");
	/* any scheme, any case */
	CHECK_STR(u("HTTP://U:P@H/"), "HTTP://REDACTED:REDACTED@H/");
	CHECK_STR(u("ftp://u:p@h/"), "ftp://REDACTED:REDACTED@h/");
	/* network-path reference, CONNECT's authority form, IPv6 */
	CHECK_STR(u("//u:p@h/x"), "//REDACTED:REDACTED@h/x");
	CHECK_STR(u("u:p@h:443"), "REDACTED:REDACTED@h:443");
	CHECK_STR(u("h:443"), "h:443");
	CHECK_STR(u("http://u:p@[2001:db8::1]:8080/"), "http://REDACTED:REDACTED@[2001:db8::1]:8080/");
	/* '@' outside the authority is no userinfo */
	CHECK_STR(u("http://h/p@x?a=b@c"), "http://h/p@x?a=b@c");
	CHECK_STR(u("/p@x"), "/p@x");
	CHECK_STR(u("*"), "*");
	/* an empty userinfo hides nothing */
	CHECK_STR(u("http://@h/"), "http://@h/");
	CHECK_STR(redact_host("u:p@host:80"), "host:80");
	CHECK_STR(redact_host("host:80"), "host:80");
	/* in place: untouched when clean, rewritten when not, cut to fit */
	{
		char b[32] = "http://h/a?b=c";

		redact_url_inplace(b, sizeof(b));
		CHECK_STR(b, "http://h/a?b=c");
		strcpy(b, "http://user:pw@h/?sig=12345678");
		redact_url_inplace(b, sizeof(b));
		CHECK_STR(b, "http://REDACTED:REDACTED@h/?sig");
		CHECK(!strstr(b, "pw") && !strstr(b, "1234"));
	}
	CHECK_STR(redact_path_start("http://u:p@h/x?y"), "/x?y");
	CHECK_STR(redact_path_start("Http://u:p@h"), "");
	CHECK_STR(redact_path_start("/x"), "/x");
	CHECK_STR(redact_path_start("h:443"), "h:443");
	return true;
}

static bool test_cut_and_long(void)
{
	size_t n = 1 << 20, len;
	char *big = malloc(n + 1), small[16];
	char *o = malloc(n * 2);

	redact_reset();
	/* a megabyte of signatures: every value hidden, nothing overflows */
	for (size_t i = 0; i < n; i++)
		big[i] = "sig=SECRETSS&"[i % 13];
	big[n] = '\0';
	len = redact_query(o, n * 2, big, n);
	CHECK(len > 0 && len == strlen(o));
	CHECK(!strstr(o, "SECRET"));
	CHECK(strncmp(o, "sig=REDACTED&sig=REDACTED&", 26) == 0);
	/* one huge value */
	memset(big, 'S', n);
	memcpy(big, "x=1&sig=", 8);
	big[n] = '\0';
	CHECK_STR((redact_query(o, n * 2, big, n), o), "x=1&sig=REDACTED");
	len = redact_url(o, n * 2, big, n);	/* no "?": x=1&sig=... is an authority */
	CHECK(len == n);
	/* cut: the output is a prefix of the redacted form, NUL-terminated */
	CHECK_INT(redact_query(small, sizeof(small), "aaaa=1&sig=topsecret", 20), 15);
	CHECK_STR(small, "aaaa=1&sig=REDA");
	CHECK_INT(redact_query(small, 1, "sig=x", 5), 0);
	CHECK_STR(small, "");
	CHECK_INT(redact_url(small, sizeof(small), "http://user:pass@h/", 19), 15);
	CHECK_STR(small, "http://REDACTED");
	free(big);
	free(o);
	return true;
}

static bool test_user_list(void)
{
	printf("  (the warnings below are expected)\n");
	fflush(stdout);
	redact_reset();
	CHECK_INT(redact_add_param("token"), 0);
	CHECK_INT(redact_add_param("token"), 0);	/* once */
	CHECK_INT(redact_n_params(), 5);
	CHECK_STR(q("token=t&tokens=u&sig=v"), "token=REDACTED&tokens=u&sig=REDACTED");
	CHECK_INT(redact_add_param("t"), 0);		/* shorter than the defaults */
	CHECK_STR(q("t=1&u=2"), "t=REDACTED&u=2");
	CHECK_INT(redact_add_param(""), -1);
	CHECK_INT(redact_add_param("a\nb"), -1);
	{
		char longname[REDACT_NAME_MAX + 8];

		memset(longname, 'n', REDACT_NAME_MAX + 1);
		longname[REDACT_NAME_MAX + 1] = '\0';
		CHECK_INT(redact_add_param(longname), -1);
		longname[REDACT_NAME_MAX] = '\0';
		CHECK_INT(redact_add_param(longname), 0);
		CHECK(strcmp(q(strcat(longname, "=v")), longname) != 0);
	}
	redact_reset();
	for (int i = 0; i < REDACT_MAX_NAMES - 4; i++) {
		char nm[16];

		snprintf(nm, sizeof(nm), "p%d", i);
		CHECK_INT(redact_add_param(nm), 0);
	}
	CHECK_INT(redact_add_param("one-too-many"), -1);
	CHECK_STR(q("p59=x"), "p59=REDACTED");

	/* the environment and the flag add up, after the four defaults */
	redact_reset();
	setenv(REDACT_ENV, " session , ,access_token,", 1);
	CHECK_INT(redact_add_env(), 0);
	CHECK_INT(redact_n_params(), 6);
	CHECK_STR(redact_param(0), "AWSAccessKeyId");
	CHECK_STR(redact_param(4), "session");
	CHECK_STR(redact_param(5), "access_token");
	CHECK_STR(q("session=1&access_token=2"), "session=REDACTED&access_token=REDACTED");
	{
		struct env env;
		char *argv[] = { "weft", "--redact-query-param", "code",
				 "--redact-query-param", "state", NULL };

		memset(&env, 0, sizeof(env));
		optind = 0;
		CHECK_INT(cli_parse(&env, 5, argv), 0);
		CHECK_INT(redact_n_params(), 8);
		CHECK_STR(redact_param(6), "code");
		CHECK_STR(q("code=1&state=2&session=3&x=4"),
			  "code=REDACTED&state=REDACTED&session=REDACTED&x=4");
		cli_free(&env);
		/* parsing again starts from the defaults */
		unsetenv(REDACT_ENV);
		{
			char *argv2[] = { "weft", NULL };

			memset(&env, 0, sizeof(env));
			optind = 0;
			CHECK_INT(cli_parse(&env, 1, argv2), 0);
			CHECK_INT(redact_n_params(), 4);
			cli_free(&env);
		}
		{
			char *argv3[] = { "weft", "--redact-query-param", "", NULL };

			memset(&env, 0, sizeof(env));
			optind = 0;
			CHECK(cli_parse(&env, 3, argv3) < 0);
			cli_free(&env);
		}
	}
	redact_reset();
	return true;
}

/* ---- through spanbuild.c to every output format ---- */

static struct exchange ex;
static struct http_msg req;

/* A span from a request head (body after it, never looked at) on a
 * connection of role r. */
static struct span *span_of(const char *head, enum weft_role r)
{
	struct conn_info ci;

	memset(&ex, 0, sizeof(ex));
	memset(&ci, 0, sizeof(ci));
	if (http_parse_head((const uint8_t *)head, strlen(head), &req) != HTTP_OK)
		return NULL;
	ex.req = &req;
	ex.status = 200;
	ex.start_ns = 1000;
	ex.end_ns = 2000;
	ex.trace_id[0] = 1;
	ex.span_id[0] = 2;
	ex.sampled = true;
	ci.role = r;
	ci.addr.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", ci.addr.saddr);
	inet_pton(AF_INET, "127.0.0.2", ci.addr.daddr);
	ci.addr.sport = 8080;
	ci.addr.dport = 40000;
	return exchange_to_span(&ex, &ci);
}

static const char *attr(const struct span *s, const char *k)
{
	const struct span_attr *a = span_find_attr(s, k);

	return a && a->type == SPAN_ATTR_STR ? a->str : NULL;
}

/* Every output weft has, of one span, as one string (OTLP uncompressed:
 * the exporter gzips afterwards). */
static char *all_outputs(struct span *s)
{
	struct exporter_config cfg;
	struct span *one[1] = { s };
	uint8_t *buf;
	size_t len, n = 0;
	char *res = NULL;
	FILE *f = open_memstream(&res, &n);

	memset(&cfg, 0, sizeof(cfg));
	output_span(f, OUTPUT_JSON, s);
	output_span(f, OUTPUT_TEXT, s);
	if (otlp_encode(one, 1, &cfg, &buf, &len) == 0) {
		fwrite(buf, 1, len, f);
		free(buf);
	}
	if (zipkin_encode(one, 1, &cfg, &buf, &len) == 0) {
		fwrite(buf, 1, len, f);
		free(buf);
	}
	fclose(f);
	return res;
}

static bool no_secret(const char *all, size_t len)
{
	static const char *const secrets[] = {
		"s3cr3t", "pa55", "hunter2", "TOKENVAL", "COOKIEVAL", "SETCOOKIE",
		"PROXYAUTH", "BODYSECRET", "SIGVALUE", "usr",
	};

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (memmem(all, len, secrets[i], strlen(secrets[i]))) {
			fprintf(stderr, "  found \"%s\" in the output\n", secrets[i]);
			return false;
		}
	return true;
}

static bool test_span_attributes(void)
{
	struct span *s;
	char *all;

	redact_reset();
	/* server span: origin form, credentials in every header that has them */
	s = span_of("POST /upload?sig=SIGVALUE&x=1&X-Goog-Signature=SIGVALUE HTTP/1.1\r\n"
		    "Host: api.local:8080\r\n"
		    "Authorization: Basic dXNyOnBhNTU= s3cr3t\r\n"
		    "Proxy-Authorization: Bearer PROXYAUTH\r\n"
		    "Cookie: session=COOKIEVAL\r\n"
		    "Set-Cookie: id=SETCOOKIE\r\n"
		    "X-Api-Key: TOKENVAL\r\n"
		    "Content-Length: 18\r\n\r\n"
		    "password=BODYSECRET", WEFT_ROLE_SERVER);
	CHECK(s);
	CHECK_STR(attr(s, "url.path"), "/upload");
	CHECK_STR(attr(s, "url.query"), "sig=REDACTED&x=1&X-Goog-Signature=REDACTED");
	all = all_outputs(s);
	CHECK(strstr(all, "sig=REDACTED&x=1"));
	CHECK(no_secret(all, strlen(all)) && !memmem(all, strlen(all), "SIGVALUE", 8));
	free(all);
	span_free(s);

	/* client span through a proxy: absolute form with userinfo */
	s = span_of("GET http://usr:hunter2@backend:9000/a/b?AWSAccessKeyId=SIGVALUE&"
		    "Signature=SIGVALUE&Expires=9 HTTP/1.1\r\n"
		    "Host: backend:9000\r\nAuthorization: Bearer TOKENVAL\r\n"
		    "Cookie: a=COOKIEVAL\r\n\r\n", WEFT_ROLE_CLIENT);
	CHECK(s);
	CHECK_STR(attr(s, "url.full"), "http://REDACTED:REDACTED@backend:9000/a/b?"
		  "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=9");
	CHECK_STR(attr(s, "url.path"), "/a/b");
	CHECK_STR(attr(s, "url.query"), "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=9");
	CHECK_STR(attr(s, "server.address"), "backend");
	all = all_outputs(s);
	CHECK(no_secret(all, strlen(all)));
	free(all);
	span_free(s);

	/* server span of the same: the authority is no part of url.path */
	s = span_of("GET HTTP://usr:hunter2@backend/x?sig=SIGVALUE HTTP/1.1\r\n\r\n",
		    WEFT_ROLE_SERVER);
	CHECK(s);
	CHECK_STR(attr(s, "url.path"), "/x");
	CHECK_STR(attr(s, "url.query"), "sig=REDACTED");
	all = all_outputs(s);
	CHECK(no_secret(all, strlen(all)));
	free(all);
	span_free(s);
	s = span_of("GET http://usr:hunter2@backend?sig=SIGVALUE HTTP/1.1\r\n\r\n",
		    WEFT_ROLE_SERVER);
	CHECK(s);
	CHECK_STR(attr(s, "url.path"), "/");
	CHECK_STR(attr(s, "url.query"), "sig=REDACTED");
	span_free(s);

	/* a hostile Host with userinfo: not in server.address nor url.full */
	s = span_of("GET /p HTTP/1.1\r\nHost: usr:hunter2@svc:81\r\n\r\n", WEFT_ROLE_CLIENT);
	CHECK(s);
	CHECK_STR(attr(s, "server.address"), "svc");
	CHECK_STR(attr(s, "url.full"), "http://REDACTED:REDACTED@svc:81/p");
	all = all_outputs(s);
	CHECK(no_secret(all, strlen(all)));
	free(all);
	span_free(s);

	/* CONNECT's authority form */
	s = span_of("CONNECT usr:hunter2@h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
		    WEFT_ROLE_CLIENT);
	CHECK(s);
	CHECK_STR(attr(s, "url.path"), "REDACTED:REDACTED@h:443");
	all = all_outputs(s);
	CHECK(no_secret(all, strlen(all)));
	free(all);
	span_free(s);

	/* the user's list reaches the span too */
	CHECK_INT(redact_add_param("api_key"), 0);
	s = span_of("GET /v?api_key=TOKENVAL&sig=SIGVALUE HTTP/1.1\r\nHost: x\r\n\r\n",
		    WEFT_ROLE_CLIENT);
	CHECK(s);
	CHECK_STR(attr(s, "url.query"), "api_key=REDACTED&sig=REDACTED");
	CHECK_STR(attr(s, "url.full"), "http://x/v?api_key=REDACTED&sig=REDACTED");
	span_free(s);
	redact_reset();
	return true;
}

/* No header but the ones weft reports is kept by the parser at all. */
static bool test_parser_keeps_no_credentials(void)
{
	const char *head = "GET / HTTP/1.1\r\nAuthorization: Basic s3cr3t\r\n"
			   "Proxy-Authorization: PROXYAUTH\r\nCookie: COOKIEVAL\r\n"
			   "Set-Cookie: SETCOOKIE\r\n\r\n";

	memset(&req, 0, sizeof(req));	/* no earlier target's bytes */
	CHECK_INT(http_parse_head((const uint8_t *)head, strlen(head), &req), HTTP_OK);
	CHECK(no_secret((const char *)&req, sizeof(req)));
	return true;
}

static double ns_since(const struct timespec *a, int iters)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a->tv_sec) * 1e9 + (b.tv_nsec - a->tv_nsec)) / iters;
}

/*
 * The cost per span (printed): what spanbuild.c did before for a client
 * span's query and url.full (copies) against what it does now (redacting
 * copies, the in-place check of url.full), and a whole exchange_to_span.
 */
static bool test_cost(void)
{
	static const char *const heads[] = {
		"GET /api/v1/items?limit=5&page=2 HTTP/1.1\r\nHost: backend:9090\r\n\r\n",
		"GET /o?X-Goog-Algorithm=GOOG4&X-Goog-Signature=abcdef HTTP/1.1\r\n"
		"Host: backend:9090\r\n\r\n",
	};
	const char *what[] = { "nothing to redact", "a signature" };
	char qb[HTTP_TARGET_MAX], full[HTTP_TARGET_MAX + HTTP_HOST_MAX + 16];
	int iters = 300000;
	struct timespec a;

	redact_reset();
	for (int h = 0; h < 2; h++) {
		const char *t;
		double copy_ns, redact_ns, span_ns;
		struct span *s;

		CHECK_INT(http_parse_head((const uint8_t *)heads[h], strlen(heads[h]), &req), HTTP_OK);
		t = strchr(req.target, '?') + 1;
		snprintf(full, sizeof(full), "http://backend:9090%s", req.target);
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < iters; i++) {
			http_copy_cut(qb, sizeof(qb), t, strlen(t));
			__asm__ volatile("" : : "r"(qb), "r"(full) : "memory");
		}
		copy_ns = ns_since(&a, iters);
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < iters; i++) {
			redact_query(qb, sizeof(qb), t, strlen(t));
			if (h)	/* the in-place rewrite works on a fresh copy */
				snprintf(full, sizeof(full), "http://backend:9090%s", req.target);
			redact_url_inplace(full, sizeof(full));
			__asm__ volatile("" : : "r"(qb), "r"(full) : "memory");
		}
		redact_ns = ns_since(&a, iters);
		s = span_of(heads[h], WEFT_ROLE_CLIENT);
		CHECK(s);
		span_free(s);
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < iters / 10; i++)
			span_free(exchange_to_span(&ex, &(struct conn_info){ .role = WEFT_ROLE_CLIENT }));
		span_ns = ns_since(&a, iters / 10);
		printf("     %s: query copy %.0f ns, redacting query copy + url.full check "
		       "%.0f ns%s; whole client span build %.0f ns\n", what[h], copy_ns,
		       redact_ns, h ? " (+ a snprintf to refill url.full)" : "", span_ns);
	}
	return true;
}

int main(void)
{
	RUN(test_each_default_param);
	RUN(test_case_sensitive);
	RUN(test_repeated_and_valueless);
	RUN(test_percent_encoded_names);
	RUN(test_fragments);
	RUN(test_userinfo);
	RUN(test_cut_and_long);
	RUN(test_user_list);
	RUN(test_span_attributes);
	RUN(test_parser_keeps_no_credentials);
	RUN(test_cost);
	return TEST_SUMMARY();
}
