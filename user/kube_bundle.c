// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pod facts from the container runtime's bundle: see kube_bundle.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "kube_bundle.h"
#include "util.h"

static const char *const bundle_paths[] = {
	"/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
	"/run/containers/storage/overlay-containers/%s/userdata/config.json",
};

/* Annotation names per runtime: namespace, pod, pod uid, container. */
static const char *const keys[][4] = {
	{ "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-name",
	  "io.kubernetes.cri.sandbox-uid", "io.kubernetes.cri.container-name" },
	{ "io.kubernetes.pod.namespace", "io.kubernetes.pod.name",
	  "io.kubernetes.pod.uid", "io.kubernetes.container.name" },
};

static const char *ann(struct json_object *a, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(a, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static struct kube_pod *from_object(struct json_object *o, const char *cid)
{
	struct json_object *a;

	if (!o || !json_object_object_get_ex(o, "annotations", &a) ||
	    !json_object_is_type(a, json_type_object))
		return NULL;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *ns = ann(a, keys[k][0]), *name = ann(a, keys[k][1]);
		const char *uid = ann(a, keys[k][2]), *cname = ann(a, keys[k][3]);
		struct kube_pod *p;

		if (!ns || !name)
			continue;
		p = kube_pod_new(1);
		p->partial = true;
		p->ns = xstrdup(ns);
		p->name = xstrdup(name);
		p->uid = xstrdup(uid ? uid : "");
		if (cname && cid && strlen(cid) == CONTAINER_ID_LEN) {
			p->containers[0].name = xstrdup(cname);
			memcpy(p->containers[0].id, cid, CONTAINER_ID_LEN + 1);
			p->n_containers = 1;
		}
		return p;
	}
	return NULL;
}

struct kube_pod *kube_bundle_parse(const char *json_text, const char *cid)
{
	struct json_object *o = json_tokener_parse(json_text);
	struct kube_pod *p = from_object(o, cid);

	json_object_put(o);
	return p;
}

struct kube_pod *kube_bundle_pod(const char *root, const char *cid)
{
	for (size_t i = 0; i < sizeof(bundle_paths) / sizeof(bundle_paths[0]); i++) {
		char rel[512], path[1024];
		struct json_object *o;
		struct kube_pod *p;

		snprintf(rel, sizeof(rel), bundle_paths[i], cid);
		snprintf(path, sizeof(path), "%s%s", root ? root : "", rel);
		o = json_object_from_file(path);
		if (!o)
			continue;
		p = from_object(o, cid);
		json_object_put(o);
		if (p)
			return p;
	}
	return NULL;
}
