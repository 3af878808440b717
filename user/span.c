// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Span and resource objects: ownership, attributes, ids as hex. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"
#include "span.h"

static void attr_clear(struct span_attr *a)
{
	if (!a->key_static)
		free(a->key);
	if (a->type == SPAN_ATTR_STR && !a->str_in_arena)
		free(a->str);
	memset(a, 0, sizeof(*a));
}

static void attr_copy(struct span_attr *dst, const struct span_attr *src)
{
	dst->key_static = src->key_static;
	dst->key = src->key_static ? src->key : xstrdup(src->key);
	dst->type = src->type;
	dst->num = src->num;
	dst->str = src->type == SPAN_ATTR_STR ? xstrdup(src->str) : NULL;
}

struct span *span_new(void)
{
	struct span *s = malloc(sizeof(*s));

	if (!s)
		abort();
	memset(s, 0, offsetof(struct span, arena));	/* the arena needs none */
	s->kind = SPAN_KIND_SERVER;
	s->sampled = true;
	return s;
}

void span_free(struct span *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n_attrs; i++)
		attr_clear(&s->attrs[i]);
	free(s->trace_state);
	free(s->name);
	free(s->status_message);
	resource_unref(s->res);
	free(s);
}

struct span *span_clone(const struct span *s)
{
	struct span *c = span_new();

	memcpy(c, s, offsetof(struct span, arena) + s->arena_len);
	c->trace_state = s->trace_state ? xstrdup(s->trace_state) : NULL;
	c->name = s->name ? xstrdup(s->name) : NULL;
	c->status_message = s->status_message ? xstrdup(s->status_message) : NULL;
	for (int i = 0; i < s->n_attrs; i++) {
		if (s->attrs[i].str_in_arena)	/* same offset in the copy's arena */
			c->attrs[i].str = c->arena + (s->attrs[i].str - s->arena);
		else
			attr_copy(&c->attrs[i], &s->attrs[i]);
	}
	c->res = s->res ? resource_ref(s->res) : NULL;
	return c;
}

void span_set_name(struct span *s, const char *name)
{
	free(s->name);
	s->name = xstrdup(name);
}

void span_set_status(struct span *s, enum span_status st, const char *msg)
{
	s->status = st;
	free(s->status_message);
	s->status_message = msg ? xstrdup(msg) : NULL;
}

static struct span_attr *attr_slot(struct span_attr *attrs, int *n, int max,
				   const char *key)
{
	for (int i = 0; i < *n; i++) {
		if (strcmp(attrs[i].key, key) == 0) {
			attr_clear(&attrs[i]);
			return &attrs[i];
		}
	}
	if (*n >= max)
		return NULL;
	return &attrs[(*n)++];
}

static struct span_attr *span_slot(struct span *s, const char *key)
{
	struct span_attr *a;

	if (s->n_attrs >= SPAN_MAX_ATTRS)
		return NULL;
	a = &s->attrs[s->n_attrs++];
	a->key = (char *)key;
	a->key_static = true;
	return a;
}

void span_add_str(struct span *s, const char *key, const char *val)
{
	struct span_attr *a = span_slot(s, key);
	size_t n;

	if (!a)
		return;
	a->type = SPAN_ATTR_STR;
	if (!val)
		val = "";
	n = strlen(val) + 1;
	if (n <= sizeof(s->arena) - s->arena_len) {
		a->str = memcpy(s->arena + s->arena_len, val, n);
		a->str_in_arena = true;
		s->arena_len += n;
	} else {
		a->str = xstrdup(val);
	}
}

void span_add_int(struct span *s, const char *key, int64_t val)
{
	struct span_attr *a = span_slot(s, key);

	if (!a)
		return;
	a->type = SPAN_ATTR_INT;
	a->num = val;
}

const struct span_attr *span_find_attr(const struct span *s, const char *key)
{
	for (int i = 0; i < s->n_attrs; i++)
		if (strcmp(s->attrs[i].key, key) == 0)
			return &s->attrs[i];
	return NULL;
}

void span_set_resource(struct span *s, struct resource *r)
{
	struct resource *old = s->res;

	s->res = r ? resource_ref(r) : NULL;
	resource_unref(old);
}

struct resource *resource_new(uint32_t pid)
{
	struct resource *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->refcnt = 1;
	r->pid = pid;
	return r;
}

struct resource *resource_ref(struct resource *r)
{
	__atomic_add_fetch(&r->refcnt, 1, __ATOMIC_RELAXED);
	return r;
}

void resource_unref(struct resource *r)
{
	if (!r || __atomic_sub_fetch(&r->refcnt, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (int i = 0; i < r->n_attrs; i++)
		attr_clear(&r->attrs[i]);
	free(r->json);
	free(r);
}

/* The attribute key of r, emptied for a new value (NULL when r is full);
 * the JSON made of r is stale from now on. */
static struct span_attr *resource_slot(struct resource *r, const char *key)
{
	struct span_attr *a;

	free(r->json);
	r->json = NULL;
	a = attr_slot(r->attrs, &r->n_attrs, RESOURCE_MAX_ATTRS, key);
	if (a)
		a->key = xstrdup(key);
	return a;
}

void resource_set_str(struct resource *r, const char *key, const char *val)
{
	struct span_attr *a = resource_slot(r, key);

	if (!a)
		return;
	a->type = SPAN_ATTR_STR;
	a->str = xstrdup(val);
}

void resource_set_int(struct resource *r, const char *key, int64_t val)
{
	struct span_attr *a = resource_slot(r, key);

	if (!a)
		return;
	a->type = SPAN_ATTR_INT;
	a->num = val;
}

const struct span_attr *resource_find_attr(const struct resource *r,
					   const char *key)
{
	for (int i = 0; i < r->n_attrs; i++)
		if (strcmp(r->attrs[i].key, key) == 0)
			return &r->attrs[i];
	return NULL;
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

bool id_is_zero(const uint8_t *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (id[i])
			return false;
	return true;
}
