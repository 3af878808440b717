// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_kube_selector: the label selector parser and matcher
 * (user/kube_selector.c), which read --pod-selector. Input: the selector
 * text up to the first '\n', then "key=value" label lines of a pod (the
 * pod is made through kube_pod_from_json, as the watch makes it).
 *
 * Invariants beyond "no crash":
 *  - NULL exactly on a syntax error, with a reason in err;
 *  - an empty or blank selector matches every pod;
 *  - a selector is the conjunction of its requirements: cut at the
 *    commas outside parentheses, each part parses alone, and the whole
 *    matches a pod exactly when every part does;
 *  - "S,S" (when it parses: at most 32 requirements) matches as S does;
 *  - matching is deterministic, and freeing leaves nothing (LeakSanitizer).
 */
#include <json-c/json.h>
#include "fuzz.h"
#include "kube_pod.h"
#include "kube_selector.h"

static struct kube_pod *make_pod(struct fuzz_in *in)
{
	struct json_object *o = json_object_new_object();
	struct json_object *md = json_object_new_object();
	struct json_object *labels = json_object_new_object();
	struct kube_pod *p;

	json_object_object_add(md, "uid", json_object_new_string("u-1"));
	json_object_object_add(md, "name", json_object_new_string("pod-1"));
	json_object_object_add(md, "namespace", json_object_new_string("ns"));
	while (!fz_empty(in)) {
		size_t n;
		const uint8_t *l = fz_until(in, '\n', &n);
		const uint8_t *eq = memchr(l, '=', n);
		char *k = fz_strndup(l, eq ? (size_t)(eq - l) : n);

		json_object_object_add(labels, k, json_object_new_string_len(
			eq ? (const char *)eq + 1 : "", eq ? (int)(n - (eq + 1 - l)) : 0));
		free(k);
	}
	json_object_object_add(md, "labels", labels);
	json_object_object_add(o, "metadata", md);
	p = kube_pod_from_json(o);
	json_object_put(o);
	FUZZ_ASSERT(p);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t n;
	const uint8_t *t = fz_until(&in, '\n', &n);
	char *text = fz_strndup(t, n), *twice, err[128];
	struct kube_selector *s, *s2;
	struct kube_pod *pod = make_pod(&in);
	bool blank = true, m;

	for (size_t i = 0; text[i]; i++)
		blank &= text[i] == ' ' || text[i] == '\t';
	err[0] = '\0';
	s = kube_selector_parse(text, err, sizeof(err));
	if (!s) {
		FUZZ_ASSERT(err[0]);
		FUZZ_ASSERT(!blank);
		goto out;
	}
	m = kube_selector_match(s, pod);
	FUZZ_ASSERT(kube_selector_match(s, pod) == m);
	if (blank)
		FUZZ_ASSERT(m);

	/* the conjunction of its parts */
	{
		bool all = true;
		int depth = 0;
		size_t start = 0, len = strlen(text);

		for (size_t i = 0; i <= len; i++) {
			if (text[i] == '(')
				depth++;
			else if (text[i] == ')')
				depth--;
			if (i < len && (text[i] != ',' || depth > 0))
				continue;
			{
				char *part = fz_strndup((const uint8_t *)text + start, i - start);
				struct kube_selector *ps = kube_selector_parse(part, err, sizeof(err));

				FUZZ_ASSERT(ps);
				all &= kube_selector_match(ps, pod);
				kube_selector_free(ps);
				free(part);
			}
			start = i + 1;
		}
		FUZZ_ASSERT(all == m);
	}

	/* S,S */
	if (!blank) {
		twice = malloc(2 * strlen(text) + 2);
		FUZZ_ASSERT(twice);
		sprintf(twice, "%s,%s", text, text);
		s2 = kube_selector_parse(twice, err, sizeof(err));
		if (s2)
			FUZZ_ASSERT(kube_selector_match(s2, pod) == m);
		kube_selector_free(s2);
		free(twice);
	}
	kube_selector_free(s);
out:
	kube_pod_unref(pod);
	free(text);
	return 0;
}
