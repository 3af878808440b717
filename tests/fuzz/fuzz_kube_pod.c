// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_kube_pod: a Pod object of the Kubernetes API into weft's pod model
 * (user/kube_pod.c kube_pod_from_json via json-c), as the pod watch reads
 * list items and watch events: an API server, or anything that answers in
 * its place, shapes this JSON. Input: JSON text (json-c's default,
 * non-strict parser, as the watch uses); what does not parse is dropped.
 * The pod is then used as weft uses it: service name, resource attributes
 * per container, labels, the Deployment guess, a workload set later, a
 * few selectors, references taken and dropped.
 *
 * Invariants beyond "no crash":
 *  - NULL exactly when metadata.uid, .name or .namespace is missing or not
 *    a string; otherwise namespace, name and uid are those strings;
 *  - at most 32 labels (each the object's value for its key, first key
 *    found), 16 resource annotations, 32 containers; container ids "" or
 *    64 characters; bytes at least the struct;
 *  - kube_pod_service_name is never NULL; every attribute kube_pod_attrs
 *    puts has a key and a value;
 *  - a guessed Deployment is the ReplicaSet's name less "-<hash>";
 *  - LeakSanitizer: the last reference frees everything.
 */
#include <json-c/json.h>
#include "fuzz.h"
#include "kube_pod.h"
#include "kube_selector.h"

static int n_put;

static void put(void *ctx, const char *key, const char *val)
{
	FUZZ_ASSERT(key && val);
	n_put++;
}

static const char *str_at(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const char *const selectors[] = {
	"app=a", "app!=a,tier", "!app", "app in (a,b),env notin (prod)",
	"app.kubernetes.io/name", "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *md = NULL, *labels = NULL;
	struct kube_pod *p;
	bool complete;
	char guess[64], err[128];

	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!o)
		return 0;
	if (json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, "metadata", &md);
	complete = str_at(md, "uid") && str_at(md, "name") && str_at(md, "namespace");
	p = kube_pod_from_json(o);
	FUZZ_ASSERT(!p == !complete);
	if (!p) {
		json_object_put(o);
		return 0;
	}
	FUZZ_ASSERT(strcmp(p->ns, str_at(md, "namespace")) == 0);
	FUZZ_ASSERT(strcmp(p->name, str_at(md, "name")) == 0);
	FUZZ_ASSERT(strcmp(p->uid, str_at(md, "uid")) == 0);
	FUZZ_ASSERT(p->refcnt == 1 && p->bytes >= sizeof(*p));
	FUZZ_ASSERT(p->n_labels >= 0 && p->n_labels <= KUBE_MAX_LABELS);
	FUZZ_ASSERT(p->n_res >= 0 && p->n_res <= KUBE_MAX_RES_ANNOTS);
	FUZZ_ASSERT(p->n_containers >= 0 && p->n_containers <= KUBE_MAX_CONTAINERS);
	json_object_object_get_ex(md, "labels", &labels);
	for (int i = 0; i < p->n_labels; i++) {
		const char *v = kube_pod_label(p, p->labels[i].key);

		FUZZ_ASSERT(v && p->labels[i].val);
		if (labels && json_object_is_type(labels, json_type_object))
			FUZZ_ASSERT(strcmp(v, str_at(labels, p->labels[i].key)) == 0);
	}
	for (int i = 0; i < p->n_res; i++)
		FUZZ_ASSERT(p->res[i].key && p->res[i].val);
	for (int i = 0; i < p->n_containers; i++) {
		size_t n = strlen(p->containers[i].id);

		FUZZ_ASSERT(p->containers[i].name);
		FUZZ_ASSERT(n == 0 || n == CONTAINER_ID_LEN);
		if (n)
			FUZZ_ASSERT(kube_pod_container_name(p, p->containers[i].id));
	}
	FUZZ_ASSERT(kube_pod_service_name(p));
	n_put = 0;
	kube_pod_attrs(p, NULL, put, NULL);
	FUZZ_ASSERT(n_put >= 2);
	for (int i = 0; i < p->n_containers; i++)
		kube_pod_attrs(p, p->containers[i].id, put, NULL);
	if (kube_pod_guess_deployment(p, guess, sizeof(guess))) {
		size_t n = strlen(guess);

		FUZZ_ASSERT(strcmp(p->owner.kind, "ReplicaSet") == 0);
		FUZZ_ASSERT(strncmp(p->owner.name, guess, n) == 0 &&
			    p->owner.name[n] == '-' &&
			    strcmp(p->owner.name + n + 1, p->pod_template_hash) == 0);
		kube_pod_ref(p);
		kube_pod_set_top(p, "Deployment", guess);
		FUZZ_ASSERT(kube_pod_service_name(p));
		kube_pod_attrs(p, NULL, put, NULL);
		kube_pod_unref(p);
	}
	for (size_t i = 0; i < sizeof(selectors) / sizeof(selectors[0]); i++) {
		struct kube_selector *s = kube_selector_parse(selectors[i], err, sizeof(err));

		FUZZ_ASSERT(s);
		(void)kube_selector_match(s, p);
		kube_selector_free(s);
	}
	kube_pod_unref(p);
	json_object_put(o);
	return 0;
}
