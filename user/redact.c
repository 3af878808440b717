// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Redaction of URL secrets (see redact.h for the rules). The list of names
 * is set up once at start (cli.c) and only read afterwards.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "redact.h"

#define NO_POS SIZE_MAX

struct name {
	char s[REDACT_NAME_MAX + 1];
	size_t len;
};

/* The OpenTelemetry semantic conventions' list (url.query, url.full). */
#define DEFAULT_NAMES							\
	{ "AWSAccessKeyId", 14 }, { "Signature", 9 }, { "sig", 3 },	\
	{ "X-Goog-Signature", 16 }
#define N_DEFAULT 4

static struct name names[REDACT_MAX_NAMES] = { DEFAULT_NAMES };
static int n_names = N_DEFAULT;
static size_t min_len = 3, max_len = 16;	/* of the names, decoded */
/* Bytes a sensitive name can start with, encoded: the names' first bytes,
 * '%' and '+'. Any other parameter is passed over without a look. */
static bool first[256] = { ['A'] = 1, ['S'] = 1, ['s'] = 1, ['X'] = 1,
			   ['%'] = 1, ['+'] = 1 };

void redact_reset(void)
{
	static const struct name defaults[N_DEFAULT] = { DEFAULT_NAMES };

	memset(names, 0, sizeof(names));
	memcpy(names, defaults, sizeof(defaults));
	n_names = N_DEFAULT;
	min_len = 3;
	max_len = 16;
	memset(first, 0, sizeof(first));
	for (int i = 0; i < n_names; i++)
		first[(unsigned char)names[i].s[0]] = true;
	first['%'] = first['+'] = true;
}

int redact_n_params(void)
{
	return n_names;
}

const char *redact_param(int i)
{
	return i >= 0 && i < n_names ? names[i].s : NULL;
}

int redact_add_param(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > REDACT_NAME_MAX) {
		fprintf(stderr, "weft: query parameter name to redact must be 1 to %d "
			"bytes: '%.40s%s'\n", REDACT_NAME_MAX, name, len > 40 ? "..." : "");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
			fprintf(stderr, "weft: query parameter name to redact has a "
				"control character\n");
			return -1;
		}
	for (int i = 0; i < n_names; i++)
		if (names[i].len == len && memcmp(names[i].s, name, len) == 0)
			return 0;	/* already there */
	if (n_names >= REDACT_MAX_NAMES) {
		fprintf(stderr, "weft: too many query parameters to redact (max %d, "
			"the %d defaults included)\n", REDACT_MAX_NAMES, N_DEFAULT);
		return -1;
	}
	memcpy(names[n_names].s, name, len + 1);
	names[n_names].len = len;
	n_names++;
	first[(unsigned char)name[0]] = true;
	if (len < min_len)
		min_len = len;
	if (len > max_len)
		max_len = len;
	return 0;
}

int redact_add_env(void)
{
	const char *v = getenv(REDACT_ENV);
	char buf[REDACT_NAME_MAX + 1];

	while (v && *v) {
		const char *e = strchr(v, ','), *s = v;
		size_t n;

		if (!e)
			e = v + strlen(v);
		v = *e ? e + 1 : e;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		n = e - s;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (!n)
			continue;
		if (n > REDACT_NAME_MAX) {
			fprintf(stderr, "weft: %s: a name longer than %d bytes\n",
				REDACT_ENV, REDACT_NAME_MAX);
			return -1;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (redact_add_param(buf))
			return -1;
	}
	return 0;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Is the raw (still encoded) parameter name s[0..n) one to redact? */
static bool sensitive(const char *s, size_t n)
{
	char dec[REDACT_NAME_MAX];
	size_t i = 0, dn = 0;

	if (n < min_len)
		return false;	/* decoding only shortens */
	while (i < n && s[i] != '%' && s[i] != '+')
		i++;
	if (i < n) {		/* encoded: compare the decoded name */
		for (i = 0; i < n; i++) {
			int hi, lo;

			if (dn == sizeof(dec))
				return false;	/* longer than any name */
			if (s[i] == '+') {
				dec[dn++] = ' ';
			} else if (s[i] == '%' && i + 2 < n &&
				   (hi = hexval(s[i + 1])) >= 0 &&
				   (lo = hexval(s[i + 2])) >= 0) {
				dec[dn++] = (char)(hi << 4 | lo);
				i += 2;
			} else {
				dec[dn++] = s[i];
			}
		}
		s = dec;
		n = dn;
	}
	if (n < min_len || n > max_len)
		return false;
	for (int k = 0; k < n_names; k++)
		if (names[k].len == n && names[k].s[0] == s[0] &&
		    memcmp(names[k].s, s, n) == 0)
			return true;
	return false;
}

/* An output buffer that cuts at its end and is NUL-terminated at the end. */
struct out {
	char *p;
	size_t cap;	/* bytes that may hold text: size - 1 */
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/*
 * The query src[0..n) into o; true when something was (or would be)
 * redacted. o NULL: only tell. A name ends at '=', '&' or '#'; a
 * sensitive value runs to the next '&', a '#' in it included (servers that
 * take a request target's query as it is, Go's net/http for one, read it
 * so); what follows a '#' in anything else is read as parameters too.
 */
static bool query(struct out *o, const char *src, size_t n)
{
	size_t i = 0, done = 0;	/* src[0..done) is in o already */
	bool any = false;

	while (i < n) {
		size_t s = i, eq = NO_POS;

		if (!first[(unsigned char)src[i]]) {
			while (i < n && src[i] != '&' && src[i] != '#')
				i++;
		} else {
			while (i < n && src[i] != '&' && src[i] != '#') {
				if (src[i] == '=' && eq == NO_POS)
					eq = i;
				i++;
			}
		}
		if (eq != NO_POS && sensitive(src + s, eq - s)) {
			if (!o)
				return true;
			any = true;
			while (i < n && src[i] != '&')
				i++;
			put(o, src + done, eq + 1 - done);
			put(o, REDACT_VALUE, sizeof(REDACT_VALUE) - 1);
			done = i;
		}
		if (i < n)
			i++;	/* the '&' or '#' */
	}
	if (o)
		put(o, src + done, n - done);
	return any;
}

size_t redact_query(char *dst, size_t size, const char *src, size_t n)
{
	struct out o = { dst, size - 1, 0 };

	query(&o, src, n);
	dst[o.len] = '\0';
	return o.len;
}

struct url_parts {
	size_t auth_s, auth_e;	/* the authority; equal when there is none */
	size_t at;		/* its last '@', or NO_POS */
	size_t q;		/* the '?' that starts the query, or NO_POS */
	bool scheme;		/* the authority follows "scheme://" */
};

static bool scheme_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static void url_split(const char *s, size_t n, struct url_parts *u)
{
	size_t i = 0;

	memset(u, 0, sizeof(*u));
	u->at = u->q = NO_POS;
	if (n && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) {
		while (i < n && scheme_char(s[i]))
			i++;
		if (n - i >= 3 && memcmp(s + i, "://", 3) == 0) {
			u->auth_s = i + 3;
			u->scheme = true;
		} else {
			u->auth_s = 0;	/* authority form (CONNECT host:port) */
		}
	} else if (n >= 2 && s[0] == '/' && s[1] == '/') {
		u->auth_s = 2;
	} else if (!n || s[0] == '/' || s[0] == '*' || s[0] == '?' || s[0] == '#') {
		u->auth_s = u->auth_e = 0;	/* no authority */
		goto rest;
	}
	i = u->auth_s;
	while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#') {
		if (s[i] == '@')
			u->at = i;
		i++;
	}
	u->auth_e = i;
	if (u->at == u->auth_s)
		u->at = NO_POS;		/* "@host": no credentials to hide */
rest:
	/* the first '?' even after a '#': a request target has no fragment,
	 * and servers read one there as part of the query */
	if (u->auth_e < n) {
		const char *qm = memchr(s + u->auth_e, '?', n - u->auth_e);

		if (qm)
			u->q = qm - s;
	}
}

size_t redact_url(char *dst, size_t size, const char *src, size_t n)
{
	struct out o = { dst, size - 1, 0 };
	struct url_parts u;

	url_split(src, n, &u);
	if (u.at != NO_POS) {
		put(&o, src, u.auth_s);
		put(&o, REDACT_USERINFO, sizeof(REDACT_USERINFO) - 1);
		put(&o, src + u.at, (u.q != NO_POS ? u.q + 1 : n) - u.at);
	} else {
		put(&o, src, u.q != NO_POS ? u.q + 1 : n);
	}
	if (u.q != NO_POS)
		query(&o, src + u.q + 1, n - u.q - 1);
	dst[o.len] = '\0';
	return o.len;
}

void redact_url_inplace(char *buf, size_t size)
{
	size_t n = strnlen(buf, size - 1);
	struct url_parts u;
	char stack[4096], *tmp = stack;

	buf[n] = '\0';
	url_split(buf, n, &u);
	if (u.at == NO_POS && (u.q == NO_POS || !query(NULL, buf + u.q + 1, n - u.q - 1)))
		return;		/* the common case: nothing to copy */
	if (n >= sizeof(stack) && !(tmp = malloc(n + 1)))
		abort();
	memcpy(tmp, buf, n + 1);
	redact_url(buf, size, tmp, n);
	if (tmp != stack)
		free(tmp);
}

const char *redact_path_start(const char *target)
{
	struct url_parts u;
	size_t n = strlen(target);

	if (!n || target[0] == '/')
		return target;	/* origin form: the common case */
	url_split(target, n, &u);
	return u.scheme ? target + u.auth_e : target;
}

const char *redact_host(const char *host)
{
	const char *at = strrchr(host, '@');

	return at ? at + 1 : host;
}
