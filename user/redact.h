/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Secrets in URLs, taken out before a span leaves weft (spanbuild.c).
 *
 * As the OpenTelemetry HTTP semantic conventions ask of url.query and
 * url.full: the values of the query parameters AWSAccessKeyId, Signature,
 * sig and X-Goog-Signature (plus the names given with
 * --redact-query-param or WEFT_REDACT_QUERY_PARAMS) become REDACTED, the
 * name stays (`q=1&sig=REDACTED`); credentials in a URL's authority
 * (`http://user:pass@host/`) become `REDACTED:REDACTED@`. Names match
 * case-sensitively, compared after percent-decoding (`%73ig` is `sig`, `+`
 * a space), as the server that reads them will decode them. A request
 * target has no fragment: a `#` in a query is kept, a sensitive value runs
 * over it to the next `&` (Go's net/http reads it so), and parameters after
 * it are redacted too. `;` is no separator (RFC 3986 and WHATWG forms use
 * `&` only).
 *
 * Nothing is allocated: the functions copy into the caller's buffer, and a
 * URL with nothing to redact costs one scan.
 */
#ifndef WEFT_REDACT_H
#define WEFT_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACT_VALUE		"REDACTED"
#define REDACT_USERINFO		"REDACTED:REDACTED"
#define REDACT_MAX_NAMES	64	/* the four defaults included */
#define REDACT_NAME_MAX		128	/* bytes of a name, decoded */
#define REDACT_ENV		"WEFT_REDACT_QUERY_PARAMS"

/* Adds a parameter name whose values are redacted (decoded form: `a b`,
 * not `a+b`). Returns 0, or -1 after printing why (empty, too long, a
 * control byte, or too many names). Set up before spans are built. */
int redact_add_param(const char *name);
/* The names in REDACT_ENV (comma-separated, blanks around names ignored),
 * added to the list: 0, or -1 after printing why. */
int redact_add_env(void);
/* Back to the four names of the conventions (for tests). */
void redact_reset(void);
/* The names redacted now, in order (defaults first). */
int redact_n_params(void);
const char *redact_param(int i);

/*
 * dst = the query src[0..n) (without its leading '?'), each sensitive
 * parameter's value replaced by REDACTED; cut to fit size (>= 1) and
 * NUL-terminated like http_copy_cut. Returns the length written.
 */
size_t redact_query(char *dst, size_t size, const char *src, size_t n);

/*
 * dst = the URL or request target src[0..n) with its userinfo replaced by
 * REDACTED:REDACTED and its query redacted as above; cut and terminated
 * the same way. The authority is what follows "scheme://" or a leading
 * "//", or, for a target that starts with neither nor '/' (CONNECT's
 * authority form), the target itself; it ends at '/', '?', '#' or the end,
 * and its userinfo is everything before the last '@' in it.
 */
size_t redact_url(char *dst, size_t size, const char *src, size_t n);

/* The same, in place: buf holds a NUL-terminated string in size bytes. A
 * string with nothing to redact is left untouched (not even copied). */
void redact_url_inplace(char *buf, size_t size);

/*
 * Where the path of a request target starts: past "scheme://authority" of
 * an absolute-form target (any scheme, any case), else the target itself.
 * The result may be "" or start with '?' or '#' (no path).
 */
const char *redact_path_start(const char *target);

/* A Host header value without userinfo (past the last '@'), which a valid
 * Host never has but a hostile one may. */
const char *redact_host(const char *host);

#endif /* WEFT_REDACT_H */
