// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Label selectors: see kube_selector.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube_selector.h"
#include "util.h"

#define SEL_MAX_REQS	32
#define SEL_MAX_VALUES	32

enum op { OP_EQ, OP_NE, OP_EXISTS, OP_NOT_EXISTS, OP_IN, OP_NOTIN };

struct req {
	enum op op;
	char *key;
	int n_values;
	char *values[SEL_MAX_VALUES];
};

struct kube_selector {
	int n;
	struct req reqs[SEL_MAX_REQS];
};

/* Label keys: [prefix/]name, names of alphanumerics, '-', '_', '.';
 * values the same (or empty). The API enforces the lengths. */
static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *take_name(const char **pp)
{
	const char *p = *pp, *s = p;

	while (name_char(*p))
		p++;
	*pp = p;
	return p > s ? strndup(s, p - s) : NULL;
}

static bool parse_set(const char **pp, struct req *r, char *err, size_t errlen)
{
	const char *p = skip_ws(*pp);

	if (*p != '(') {
		snprintf(err, errlen, "'(' expected after in/notin");
		return false;
	}
	p++;
	for (;;) {
		char *v;

		p = skip_ws(p);
		v = take_name(&p);
		if (!v)
			v = xstrdup("");
		if (r->n_values == SEL_MAX_VALUES) {
			free(v);
			snprintf(err, errlen, "more than %d values in a set", SEL_MAX_VALUES);
			return false;
		}
		r->values[r->n_values++] = v;
		p = skip_ws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ')') {
			*pp = p + 1;
			return true;
		}
		snprintf(err, errlen, "',' or ')' expected in a set");
		return false;
	}
}

/* One requirement at *pp; advances past it. */
static bool parse_req(const char **pp, struct req *r, char *err, size_t errlen)
{
	const char *p = skip_ws(*pp);

	if (*p == '!') {
		r->op = OP_NOT_EXISTS;
		p = skip_ws(p + 1);
		if (!(r->key = take_name(&p))) {
			snprintf(err, errlen, "label key expected after '!'");
			return false;
		}
		*pp = p;
		return true;
	}
	if (!(r->key = take_name(&p))) {
		snprintf(err, errlen, "label key expected at '%.20s'", p);
		return false;
	}
	p = skip_ws(p);
	if (*p == '\0' || *p == ',') {
		r->op = OP_EXISTS;
	} else if (*p == '=' || (p[0] == '!' && p[1] == '=')) {
		r->op = *p == '=' ? OP_EQ : OP_NE;
		p += (p[0] == '=' && p[1] == '=') || p[0] == '!' ? 2 : 1;
		p = skip_ws(p);
		r->values[0] = take_name(&p);
		if (!r->values[0])
			r->values[0] = xstrdup("");
		r->n_values = 1;
	} else if (strncmp(p, "notin", 5) == 0 && !name_char(p[5])) {
		r->op = OP_NOTIN;
		p += 5;
		if (!parse_set(&p, r, err, errlen))
			return false;
	} else if (strncmp(p, "in", 2) == 0 && !name_char(p[2])) {
		r->op = OP_IN;
		p += 2;
		if (!parse_set(&p, r, err, errlen))
			return false;
	} else {
		snprintf(err, errlen, "=, ==, !=, in or notin expected after '%s'", r->key);
		return false;
	}
	*pp = p;
	return true;
}

struct kube_selector *kube_selector_parse(const char *text, char *err, size_t errlen)
{
	struct kube_selector *s = calloc(1, sizeof(*s));
	const char *p = skip_ws(text);

	if (!s)
		abort();
	while (*p) {
		if (s->n == SEL_MAX_REQS) {
			snprintf(err, errlen, "more than %d requirements", SEL_MAX_REQS);
			goto fail;
		}
		if (!parse_req(&p, &s->reqs[s->n++], err, errlen))
			goto fail;
		p = skip_ws(p);
		if (*p == ',') {
			p = skip_ws(p + 1);
			if (!*p) {
				snprintf(err, errlen, "requirement expected after ','");
				goto fail;
			}
		} else if (*p) {
			snprintf(err, errlen, "',' expected at '%.20s'", p);
			goto fail;
		}
	}
	return s;
fail:
	kube_selector_free(s);
	return NULL;
}

static bool in_set(const struct req *r, const char *v)
{
	for (int i = 0; i < r->n_values; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

/* The API's semantics: != and notin also hold when the label is absent. */
bool kube_selector_match(const struct kube_selector *s, const struct kube_pod *p)
{
	for (int i = 0; s && i < s->n; i++) {
		const struct req *r = &s->reqs[i];
		const char *v = kube_pod_label(p, r->key);
		bool ok;

		switch (r->op) {
		case OP_EQ:		ok = v && strcmp(v, r->values[0]) == 0; break;
		case OP_NE:		ok = !v || strcmp(v, r->values[0]) != 0; break;
		case OP_EXISTS:		ok = v != NULL; break;
		case OP_NOT_EXISTS:	ok = v == NULL; break;
		case OP_IN:		ok = v && in_set(r, v); break;
		case OP_NOTIN:		ok = !v || !in_set(r, v); break;
		default:		ok = false;
		}
		if (!ok)
			return false;
	}
	return true;
}

void kube_selector_free(struct kube_selector *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++) {
		free(s->reqs[i].key);
		for (int j = 0; j < s->reqs[i].n_values; j++)
			free(s->reqs[i].values[j]);
	}
	free(s);
}
