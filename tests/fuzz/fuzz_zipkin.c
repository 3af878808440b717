// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_zipkin: the Zipkin v2 JSON encoder (user/zipkin.c) over spans made
 * from the input (fuzz_span.h: hostile attribute bytes, control characters,
 * quotes, backslashes, invalid UTF-8, reserved tag keys, resources with
 * arbitrary keys), and zipkin_json_quote over the raw input.
 *
 * Invariants beyond "no crash":
 *  - the output parses with json-c in strict mode with UTF-8 validation
 *    (so every string is valid UTF-8 and escaped right), as one array of
 *    as many objects as spans, in order;
 *  - no object has a key twice (checked on the text: json-c keeps the last);
 *  - traceId/id are the ids in lower-case hex (32 and 16 digits), parentId
 *    present exactly when the span has a non-zero parent, duration >= 1,
 *    kind SERVER/CLIENT, name equal to the span's when that is valid
 *    UTF-8, and every tag that comes from a span attribute whose value is
 *    valid UTF-8 has that value exactly;
 *  - zipkin_json_quote(s) parses back (strict, UTF-8) to a JSON string,
 *    equal to s when s is valid UTF-8.
 */
#include <json-c/json.h>
#include "fuzz_span.h"
#include "zipkin.h"

static struct json_object *parse_strict(const char *s, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	FUZZ_ASSERT(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)n);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		fprintf(stderr, "json: %s\n",
			json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		o = NULL;
	} else if (tok->char_offset != (int)n) {
		json_object_put(o);	/* bytes after the value */
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/*
 * No object in the (already valid) JSON text has a key twice. Keys are
 * compared as written; the encoder writes each key one way.
 */
#define MAX_DEPTH 8
#define MAX_KEYS 256

struct obj_keys {
	int n;
	const char *k[MAX_KEYS];
	size_t len[MAX_KEYS];
};

static void check_unique_keys(const char *s, size_t n)
{
	static struct obj_keys st[MAX_DEPTH];
	bool is_obj[MAX_DEPTH];
	int depth = -1;
	bool want_key = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '"') {
			size_t b = ++i;

			while (s[i] != '"')
				i += s[i] == '\\' ? 2 : 1;
			if (want_key) {
				struct obj_keys *o = &st[depth];

				for (int k = 0; k < o->n; k++)
					if (o->len[k] == i - b &&
					    memcmp(o->k[k], s + b, i - b) == 0) {
						fprintf(stderr, "key \"%.*s\" twice in: %.*s\n",
							(int)(i - b), s + b, (int)n, s);
						FUZZ_ASSERT(!"a key twice");
					}
				FUZZ_ASSERT(o->n < MAX_KEYS);
				o->k[o->n] = s + b;
				o->len[o->n++] = i - b;
				want_key = false;
			}
		} else if (c == '{' || c == '[') {
			FUZZ_ASSERT(++depth < MAX_DEPTH);
			is_obj[depth] = c == '{';
			st[depth].n = 0;
			want_key = c == '{';
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == ',') {
			want_key = depth >= 0 && is_obj[depth];
		}
	}
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	hex_encode(p, n, out);
}

static void check_span(struct json_object *o, const struct span *s)
{
	struct json_object *v, *tags = NULL;
	char h[33];

	FUZZ_ASSERT(json_object_is_type(o, json_type_object));
	FUZZ_ASSERT(json_object_object_get_ex(o, "traceId", &v));
	hex(s->trace_id, 16, h);
	FUZZ_ASSERT(strcmp(json_object_get_string(v), h) == 0);
	FUZZ_ASSERT(json_object_object_get_ex(o, "id", &v));
	hex(s->span_id, 8, h);
	FUZZ_ASSERT(strcmp(json_object_get_string(v), h) == 0);
	if (s->has_parent && !id_is_zero(s->parent_span_id, 8)) {
		FUZZ_ASSERT(json_object_object_get_ex(o, "parentId", &v));
		hex(s->parent_span_id, 8, h);
		FUZZ_ASSERT(strcmp(json_object_get_string(v), h) == 0);
	} else {
		FUZZ_ASSERT(!json_object_object_get_ex(o, "parentId", NULL));
	}
	FUZZ_ASSERT(json_object_object_get_ex(o, "kind", &v));
	FUZZ_ASSERT(strcmp(json_object_get_string(v),
			   s->kind == SPAN_KIND_SERVER ? "SERVER" : "CLIENT") == 0);
	FUZZ_ASSERT(json_object_object_get_ex(o, "duration", &v));
	FUZZ_ASSERT(json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 1);
	if (s->name && fz_utf8_valid((const uint8_t *)s->name, strlen(s->name))) {
		FUZZ_ASSERT(json_object_object_get_ex(o, "name", &v));
		FUZZ_ASSERT(strcmp(json_object_get_string(v), s->name) == 0);
	}
	FUZZ_ASSERT(json_object_object_get_ex(o, "localEndpoint", &v));
	json_object_object_get_ex(o, "tags", &tags);
	for (int i = 0; i < s->n_attrs; i++) {
		const struct span_attr *a = &s->attrs[i];
		struct json_object *t;

		if (!tags || !json_object_object_get_ex(tags, a->key, &t))
			continue;	/* reserved keys are left out */
		FUZZ_ASSERT(json_object_is_type(t, json_type_string));
		if (a->type == SPAN_ATTR_INT) {
			char num[24];

			snprintf(num, sizeof(num), "%lld", (long long)a->num);
			/* a span attribute of a reserved key is not this tag */
			if (strncmp(a->key, "otel.", 5) && strcmp(a->key, "error") &&
			    strcmp(a->key, "w3c.tracestate"))
				FUZZ_ASSERT(strcmp(json_object_get_string(t), num) == 0);
		} else if (fz_utf8_valid((const uint8_t *)a->str, strlen(a->str)) &&
			   strncmp(a->key, "otel.", 5) && strcmp(a->key, "error") &&
			   strcmp(a->key, "w3c.tracestate")) {
			FUZZ_ASSERT(strcmp(json_object_get_string(t), a->str) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fz_batch b;
	uint8_t *out = NULL;
	size_t len = 0;
	struct json_object *arr, *o;
	char *s, *q;

	/* One string, quoted and read back. */
	s = fz_strndup(data, size);
	q = zipkin_json_quote(s);
	FUZZ_ASSERT(q);
	check_unique_keys(q, strlen(q));
	o = parse_strict(q, strlen(q));
	FUZZ_ASSERT(o && json_object_is_type(o, json_type_string));
	if (fz_utf8_valid((const uint8_t *)s, strlen(s)))
		FUZZ_ASSERT(strcmp(json_object_get_string(o), s) == 0);
	json_object_put(o);
	free(q);
	free(s);

	fz_batch_make(&in, &b);
	FUZZ_ASSERT(zipkin_encode(b.spans, b.n, b.has_cfg ? &b.cfg : NULL, &out, &len) == 0);
	arr = parse_strict((const char *)out, len);
	if (!arr)
		fprintf(stderr, "output: %.*s\n", (int)len, out);
	FUZZ_ASSERT(arr && json_object_is_type(arr, json_type_array));
	FUZZ_ASSERT(json_object_array_length(arr) == b.n);
	check_unique_keys((const char *)out, len);
	for (size_t i = 0; i < b.n; i++)
		check_span(json_object_array_get_idx(arr, i), b.spans[i]);
	json_object_put(arr);
	free(out);
	fz_batch_free(&b);
	return 0;
}
