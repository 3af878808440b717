/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The span model every stage agrees on: spanbuild builds spans, the console and
 * JSON writers print them, the OTLP exporter encodes them. A span owns its
 * strings; a resource (one per traced process) is shared and refcounted
 * because the exporter thread may still hold spans of a process that exited.
 */
#ifndef WEFT_SPAN_H
#define WEFT_SPAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define SPAN_MAX_ATTRS		24
#define RESOURCE_MAX_ATTRS	48	/* process, host, k8s.*, and the pod's
					 * resource.opentelemetry.io/ annotations */
#define SPAN_ARENA		384	/* bytes of attribute values kept inline */

/* Values match OTLP's Span.SpanKind so the encoder can copy them. */
enum span_kind {
	SPAN_KIND_SERVER = 2,
	SPAN_KIND_CLIENT = 3,
};

/* Values match OTLP's Status.StatusCode. */
enum span_status {
	SPAN_STATUS_UNSET = 0,
	SPAN_STATUS_OK = 1,
	SPAN_STATUS_ERROR = 2,
};

enum span_attr_type {
	SPAN_ATTR_STR,
	SPAN_ATTR_INT,
};

struct span_attr {
	char *key;			/* owned, unless key_static */
	bool key_static;		/* key is a string literal (span attributes) */
	enum span_attr_type type;
	char *str;			/* when type == SPAN_ATTR_STR: owned, or in
					 * the span's arena (str_in_arena) */
	bool str_in_arena;
	int64_t num;			/* when type == SPAN_ATTR_INT */
};

struct resource {
	int refcnt;			/* atomic */
	uint32_t pid;
	int n_attrs;
	struct span_attr attrs[RESOURCE_MAX_ATTRS];
	/* The attributes as a JSON object, made by the JSON writer the first
	 * time it needs them (main thread only); dropped by resource_set_*. */
	char *json;
	size_t json_len;
};

struct span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	bool has_parent;
	bool sampled;
	char *trace_state;		/* owned, NULL when none */
	char *name;			/* owned */
	enum span_kind kind;
	uint64_t start_unix_ns;
	uint64_t end_unix_ns;
	enum span_status status;
	char *status_message;		/* owned, NULL when none */
	int n_attrs;
	struct span_attr attrs[SPAN_MAX_ATTRS];
	struct resource *res;		/* one reference held by the span */
	/* Attribute values live here while they fit: a malloc and a free per
	 * value were a tenth of the agent's time. */
	size_t arena_len;
	char arena[SPAN_ARENA];
};

struct span *span_new(void);
/* Frees the span and drops its resource reference. NULL is fine. */
void span_free(struct span *s);
/* Deep copy (the copy takes its own resource reference). */
struct span *span_clone(const struct span *s);
void span_set_name(struct span *s, const char *name);
void span_set_status(struct span *s, enum span_status st, const char *msg);
/*
 * Span attributes: key must be a string literal (or outlive the span) and
 * appear once per span: at tens of thousands of spans a second, copying
 * keys and checking for duplicates was a fifth of the agent's time.
 * Attributes past SPAN_MAX_ATTRS are dropped (the limit is fixed).
 */
void span_add_str(struct span *s, const char *key, const char *val);
void span_add_int(struct span *s, const char *key, int64_t val);
const struct span_attr *span_find_attr(const struct span *s, const char *key);
void span_set_resource(struct span *s, struct resource *r);

struct resource *resource_new(uint32_t pid);
struct resource *resource_ref(struct resource *r);
void resource_unref(struct resource *r);
/* Adds or replaces an attribute. */
void resource_set_str(struct resource *r, const char *key, const char *val);
void resource_set_int(struct resource *r, const char *key, int64_t val);
const struct span_attr *resource_find_attr(const struct resource *r,
					   const char *key);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
bool id_is_zero(const uint8_t *id, size_t n);

#endif /* WEFT_SPAN_H */
